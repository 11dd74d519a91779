import { lazy, memo, Suspense, useEffect, useMemo, useRef, useState } from "react";
import {
  Button, Center, Group, Loader, NativeSelect, Paper, Stack, Text, TextInput, Title,
  ThemeIcon, CloseButton, Indicator,
} from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { IconAdjustmentsHorizontal, IconSearch, IconCloudUpload } from "@tabler/icons-react";
import { useInfiniteQuery } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router-dom";
import { useTranslation } from "../i18n";
import { api, unwrap, type Document } from "../api/client";
import { can, useAuth } from "../auth";
import { StatusBadge } from "../components/StatusBadge";
import { SnippetLines, titleWithMarks } from "../components/Highlight";
import { Thumb } from "../components/Thumb";
import { bytes, dayBound, shortType, when } from "../lib/format";
import { useUploads } from "../upload/UploadCenter";

const PAGE = 50;
const DocumentFilters = lazy(() => import("./DocumentFilters"));
type Order = "create_time_desc" | "create_time_asc" | "update_time_desc" | "title_asc";
type Status = "pending_upload" | "active" | "archived" | "deleted";
export const FILTER_KEYS = ["status", "tag", "type", "owner", "cfrom", "cto", "ufrom", "uto"] as const;

export function useDocumentList(sp: URLSearchParams, forced?: { status?: Status }) {
  const status = (forced?.status ?? sp.get("status") ?? undefined) as Status | undefined;
  const query = {
    page_size: PAGE,
    ...(status ? { status } : {}),
    ...(sp.get("q") ? { q: sp.get("q")! } : {}),
    ...(sp.get("tag") ? { tag: sp.get("tag")! } : {}),
    ...(sp.get("type") ? { content_type: sp.get("type")! } : {}),
    ...(sp.get("owner") ? { owner_id: sp.get("owner")! } : {}),
    ...(dayBound(sp.get("cfrom"), false) ? { created_after: dayBound(sp.get("cfrom"), false) } : {}),
    ...(dayBound(sp.get("cto"), true) ? { created_before: dayBound(sp.get("cto"), true) } : {}),
    ...(dayBound(sp.get("ufrom"), false) ? { updated_after: dayBound(sp.get("ufrom"), false) } : {}),
    ...(dayBound(sp.get("uto"), true) ? { updated_before: dayBound(sp.get("uto"), true) } : {}),
    ...(sp.get("order") ? { order: sp.get("order") as Order } : {}),
  };
  return useInfiniteQuery({
    queryKey: ["documents", query],
    initialPageParam: "",
    queryFn: async ({ pageParam, signal }) =>
      unwrap(await api.GET("/api/v1/documents", { params: { query: { ...query, ...(pageParam ? { page_token: pageParam } : {}) } }, signal })),
    getNextPageParam: (last) => last.next_page_token || undefined,
  });
}

function useInfiniteSentinel(onVisible: () => void, enabled: boolean) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el || !enabled || typeof IntersectionObserver === "undefined") return;
    const io = new IntersectionObserver((es) => es.some((e) => e.isIntersecting) && onVisible(), { rootMargin: "600px" });
    io.observe(el);
    return () => io.disconnect();
  }, [onVisible, enabled]);
  return ref;
}

// One row, memoised: appending a page (infinite scroll) renders only the
// new rows, not the hundreds already shown (pages keep their identity).
const DocRow = memo(function DocRow({ d, trash, actions }: { d: Document; trash?: boolean; actions?: (d: Document) => React.ReactNode }) {
  const { t } = useTranslation(); // re-render dates and labels when the language changes
  const title = d.title || d.file_name || "";
  // Plain elements rather than Mantine boxes: hundreds of these rows render.
  return (
    <tr data-testid="doc-row">
      <td className="title">
        <div className="kumo-cell-title">
          <Thumb url={d.thumbnail_url} alt={t("docs.thumbAlt", { title })} size={36} />
          <div style={{ minWidth: 0 }}>
            <Link className="kumo-row-link kumo-trunc" to={`/documents/${d.id}`}>{titleWithMarks(title, d.snippets)}</Link>
            {d.title && d.file_name && d.title !== d.file_name && <div className="kumo-sub kumo-trunc">{d.file_name}</div>}
            <SnippetLines snippets={d.snippets} labels={{ title: t("docs.inTitle"), description: t("docs.inDescription"), content: t("docs.inContent") }} />
          </div>
        </div>
      </td>
      <td className="wide"><span className="kumo-number">{d.number}</span></td>
      <td><StatusBadge doc={d} /></td>
      <td className="wide">{shortType(d.detected_content_type || d.content_type)}</td>
      <td className="num">{bytes(d.size)}</td>
      <td className="wide xwide">
        {(d.tags ?? []).slice(0, 3).map((tg) => <span key={tg} className="kumo-tag">{tg}</span>)}
      </td>
      <td className="wide kumo-dim kumo-nowrap">{when(trash ? d.purge_time : d.update_time)}</td>
      {actions && <td>{actions(d)}</td>}
    </tr>
  );
});

export function DocTable({ docs, trash, actions }: { docs: Document[]; trash?: boolean; actions?: (d: Document) => React.ReactNode }) {
  const { t } = useTranslation();
  return (
    <div style={{ overflowX: "auto" }}>
      <div className="kumo-table-min">
      <table className="kumo-table" data-testid="doc-table">
        <thead>
          <tr>
            <th>{t("docs.colTitle")}</th>
            <th className="wide c-number">{t("docs.colNumber")}</th>
            <th className="c-status">{t("docs.colStatus")}</th>
            <th className="wide c-type">{t("docs.colType")}</th>
            <th className="num c-size">{t("docs.colSize")}</th>
            <th className="wide xwide c-tags">{t("docs.colTags")}</th>
            <th className="wide c-updated">{trash ? t("trash.purge") : t("docs.colUpdated")}</th>
            {actions && <th className="c-act"><span className="kumo-skip">{t("common.actions")}</span></th>}
          </tr>
        </thead>
        <tbody>
          {docs.map((d) => (
            <DocRow key={d.id} d={d} trash={trash} actions={actions} />
          ))}
        </tbody>
      </table>
      </div>
    </div>
  );
}

export function DocumentsPage() {
  const { t } = useTranslation();
  const [sp, setSp] = useSearchParams();
  const { session } = useAuth();
  const writer = can(session, "write");
  const [text, setText] = useState(sp.get("q") ?? "");
  const [debounced] = useDebouncedValue(text, 300);
  const activeFilters = FILTER_KEYS.filter((k) => sp.get(k)).length;
  const [showFilters, setShowFilters] = useState(activeFilters > 0);

  useEffect(() => {
    if ((sp.get("q") ?? "") === debounced.trim()) return;
    const n = new URLSearchParams(sp);
    if (debounced.trim()) n.set("q", debounced.trim());
    else n.delete("q");
    setSp(n, { replace: true });
  }, [debounced]); // eslint-disable-line react-hooks/exhaustive-deps

  const set = (k: string, v: string | null) => {
    const n = new URLSearchParams(sp);
    if (v) n.set(k, v);
    else n.delete(k);
    setSp(n, { replace: true });
  };

  const q = useDocumentList(sp);
  const docs = useMemo(() => q.data?.pages.flatMap((p) => p.documents ?? []) ?? [], [q.data]);
  const fetchNext = useMemo(() => () => { if (q.hasNextPage && !q.isFetchingNextPage) void q.fetchNextPage(); }, [q]);
  const sentinel = useInfiniteSentinel(fetchNext, !!q.hasNextPage);
  const filtered = activeFilters > 0 || !!sp.get("q");

  return (
    <Stack gap="md">
      <Group justify="space-between" align="flex-end">
        <Title order={2}>{t("docs.title")}</Title>
        <Group gap="xs" wrap="wrap" style={{ flex: "1 1 320px", justifyContent: "flex-end" }}>
          <TextInput
            leftSection={<IconSearch size={16} />}
            placeholder={t("docs.search")}
            aria-label={t("docs.search")}
            value={text}
            onChange={(e) => setText(e.currentTarget.value)}
            rightSection={text ? <CloseButton size="sm" aria-label={t("common.clear")} onClick={() => setText("")} /> : null}
            style={{ flex: "1 1 220px", maxWidth: 420 }}
            data-testid="search"
          />
          <NativeSelect
            aria-label={t("docs.sort")}
            w={180}
            value={sp.get("order") ?? "create_time_desc"}
            onChange={(e) => set("order", e.currentTarget.value === "create_time_desc" ? null : e.currentTarget.value)}
            data={[
              { value: "create_time_desc", label: t("docs.sortNewest") },
              { value: "create_time_asc", label: t("docs.sortOldest") },
              { value: "update_time_desc", label: t("docs.sortUpdated") },
              { value: "title_asc", label: t("docs.sortTitle") },
            ]}
          />
          <Indicator label={activeFilters} size={16} disabled={!activeFilters}>
            <Button variant="default" leftSection={<IconAdjustmentsHorizontal size={16} />} onClick={() => setShowFilters((s) => !s)} aria-expanded={showFilters}>
              {t("docs.filters")}
            </Button>
          </Indicator>
        </Group>
      </Group>

      {showFilters && (
        <Suspense fallback={<Paper withBorder p="md" radius="md" h={150} />}>
          <DocumentFilters sp={sp} set={set} clear={() => {
            const n = new URLSearchParams(sp);
            FILTER_KEYS.forEach((k) => n.delete(k));
            setSp(n, { replace: true });
          }} />
        </Suspense>
      )}

      {q.isPending ? (
        <Center h={240}><Loader aria-label={t("common.loading")} /></Center>
      ) : q.isError ? (
        <Text c="red" role="alert">{t("common.error", { message: q.error.message })}</Text>
      ) : docs.length === 0 ? (
        <EmptyState filtered={filtered} writer={writer} />
      ) : (
        <Paper withBorder radius="md">
          <DocTable docs={docs} />
          <div ref={sentinel} />
          <Group justify="center" p="sm">
            {q.hasNextPage ? (
              <Button variant="subtle" loading={q.isFetchingNextPage} onClick={() => void q.fetchNextPage()}>{t("common.loadMore")}</Button>
            ) : (
              <Text size="sm" c="dimmed">{t("docs.count", { count: docs.length })} · {t("docs.end")}</Text>
            )}
          </Group>
        </Paper>
      )}
    </Stack>
  );
}

function EmptyState({ filtered, writer }: { filtered: boolean; writer: boolean }) {
  const { t } = useTranslation();
  const uploads = useUploads();
  return (
    <Paper withBorder radius="lg" p="xl" data-testid="empty-state" style={{ borderStyle: "dashed" }}>
      <Stack align="center" gap="sm" py="xl" ta="center">
        <ThemeIcon size={64} radius="xl" variant="light" aria-hidden>
          {filtered ? <IconSearch size={32} /> : <IconCloudUpload size={32} />}
        </ThemeIcon>
        <Title order={3}>{filtered ? t("docs.noMatchTitle") : t("docs.emptyTitle")}</Title>
        <Text c="dimmed" maw={460}>{filtered ? t("docs.noMatchBody") : t("docs.emptyBody")}</Text>
        {!filtered && writer && (
          <Button leftSection={<IconCloudUpload size={18} />} onClick={() => uploads.pick()}>{t("docs.upload")}</Button>
        )}
      </Stack>
    </Paper>
  );
}
