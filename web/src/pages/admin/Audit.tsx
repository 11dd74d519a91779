import { useMemo } from "react";
import { Button, Center, Group, Loader, Paper, SimpleGrid, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router-dom";
import { useTranslation } from "../../i18n";
import { api, unwrap } from "../../api/client";
import { dayBound, when } from "../../lib/format";

type Ev = Record<string, unknown>;
const s = (e: Ev, ...keys: string[]) => {
  for (const k of keys) if (typeof e[k] === "string" && e[k]) return e[k] as string;
  return "";
};

export default function AuditPage() {
  const { t } = useTranslation();
  const [sp, setSp] = useSearchParams();
  // Days in the person's time zone: from the start of "from" to the end of "to".
  const [filters] = useDebouncedValue({
    document_id: sp.get("document") ?? "", actor_id: sp.get("actor") ?? "", action: sp.get("action") ?? "",
    time_after: dayBound(sp.get("from"), false) ?? "", time_before: dayBound(sp.get("to"), true) ?? "",
  }, 300);
  const query = Object.fromEntries(Object.entries(filters).filter(([, v]) => v));
  const q = useInfiniteQuery({
    queryKey: ["audit", query],
    initialPageParam: "",
    queryFn: async ({ pageParam }) =>
      unwrap(await api.GET("/api/v1/audit-events", { params: { query: { page_size: 50, ...query, ...(pageParam ? { page_token: pageParam } : {}) } } })),
    getNextPageParam: (l) => l.next_page_token || undefined,
  });
  // Actors by e-mail where they are users of this tenant.
  const users = useQuery({
    queryKey: ["users"],
    queryFn: async () => unwrap(await api.GET("/api/v1/users", { params: { query: { page_size: 100 } } })).users ?? [],
  });
  const who = useMemo(() => new Map((users.data ?? []).map((u) => [u.id ?? "", u.email ?? ""])), [users.data]);
  const events = useMemo(() => (q.data?.pages.flatMap((p) => p.events ?? []) ?? []) as Ev[], [q.data]);
  // From the URL as it is now, not this render's `sp`: two fields changed
  // before the next render (typing fast, autofill) must both be kept.
  const set = (k: string, v: string) => {
    const n = new URLSearchParams(window.location.search);
    if (v) n.set(k, v);
    else n.delete(k);
    setSp(n, { replace: true });
  };
  return (
    <Stack>
      <Title order={2}>{t("admin.audit")}</Title>
      <SimpleGrid cols={{ base: 1, xs: 2, md: 5 }}>
        <TextInput label={t("admin.document")} value={sp.get("document") ?? ""} onChange={(e) => set("document", e.currentTarget.value)} />
        <TextInput label={t("admin.actor")} value={sp.get("actor") ?? ""} onChange={(e) => set("actor", e.currentTarget.value)} />
        <TextInput label={t("admin.action")} value={sp.get("action") ?? ""} onChange={(e) => set("action", e.currentTarget.value)} />
        <TextInput type="date" label={t("admin.from")} value={sp.get("from") ?? ""} onChange={(e) => set("from", e.currentTarget.value)} data-testid="audit-from" />
        <TextInput type="date" label={t("admin.to")} value={sp.get("to") ?? ""} onChange={(e) => set("to", e.currentTarget.value)} data-testid="audit-to" />
      </SimpleGrid>
      {q.isPending ? <Center h={200}><Loader /></Center> : events.length === 0 ? <Text c="dimmed">{t("admin.noEvents")}</Text> : (
        <Paper withBorder radius="md">
          <Table.ScrollContainer minWidth={960}>
            <Table verticalSpacing="xs" fz="sm">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t("admin.time")}</Table.Th>
                  <Table.Th>{t("admin.action")}</Table.Th>
                  <Table.Th>{t("admin.actor")}</Table.Th>
                  <Table.Th>{t("admin.document")}</Table.Th>
                  <Table.Th>{t("admin.requestId")}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {events.map((e, i) => {
                  const doc = s(e, "document_id");
                  return (
                    <Table.Tr key={s(e, "id") || i}>
                      <Table.Td style={{ whiteSpace: "nowrap" }}>{when(s(e, "create_time", "time", "event_time"))}</Table.Td>
                      <Table.Td><Text size="sm" fw={500}>{s(e, "action")}</Text></Table.Td>
                      <Table.Td>
                        {who.get(s(e, "actor_id")) ? (
                          <Text size="sm" title={s(e, "actor_id")}>{who.get(s(e, "actor_id"))}</Text>
                        ) : (
                          <Text className="kumo-mono">{s(e, "actor_id", "actor")}</Text>
                        )}
                      </Table.Td>
                      <Table.Td>{doc ? <Link to={`/documents/${doc}`} className="kumo-row-link"><Text className="kumo-mono" span>{doc}</Text></Link> : "—"}</Table.Td>
                      <Table.Td><Text className="kumo-mono">{s(e, "request_id")}</Text></Table.Td>
                    </Table.Tr>
                  );
                })}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
          {q.hasNextPage && <Group justify="center" p="sm"><Button variant="subtle" onClick={() => void q.fetchNextPage()} loading={q.isFetchingNextPage}>{t("common.loadMore")}</Button></Group>}
        </Paper>
      )}
    </Stack>
  );
}
