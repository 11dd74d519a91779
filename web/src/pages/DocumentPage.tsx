import { useEffect, useState } from "react";
import {
  Alert, Anchor, Badge, Button, Card, Center, Grid, Group, JsonInput, Loader, Menu, Modal, NumberInput, Paper, Select, Stack, Table,
  TagsInput, Text, Textarea, TextInput, Title, Tooltip, ActionIcon, CopyButton, Breadcrumbs,
} from "@mantine/core";
import { notifications } from "@mantine/notifications";
import {
  IconArchive, IconCloudUpload, IconDownload, IconDots, IconEdit, IconRestore, IconTrash, IconArrowBackUp, IconCopy, IconCheck, IconInfoCircle, IconAlertTriangle,
} from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate, useParams } from "react-router-dom";
import { useTranslation } from "../i18n";
import { api, ApiError, toError, unwrap, type Document } from "../api/client";
import { can, useAuth } from "../auth";
import { ConflictDialog, type EditValues } from "../components/ConflictDialog";
import { StatusBadge } from "../components/StatusBadge";
import { Thumb } from "../components/Thumb";
import { bytes, shortType, when } from "../lib/format";
import { useUploads } from "../upload/UploadCenter";

const PREVIEW_MAX = 10 * 1024 * 1024;
const SAFE_PREVIEW: Record<string, "image" | "pdf" | "text"> = {
  "image/png": "image", "image/jpeg": "image", "image/gif": "image", "image/webp": "image",
  "application/pdf": "pdf", "text/plain": "text", "text/markdown": "text", "text/csv": "text", "application/json": "text",
};

function valuesOf(d: Document): EditValues {
  return {
    title: d.title ?? "",
    description: d.description ?? "",
    tags: d.tags ?? [],
    metadata: JSON.stringify(d.metadata ?? {}, null, 2),
  };
}

// The page shows a deleted document too (opened from the Trash): the BFF
// answers 404 for one unless include_deleted=true, as KumoCMS does.
export async function fetchDocument(id: string): Promise<Document> {
  const res = await api.GET("/api/v1/documents/{id}", { params: { path: { id }, query: { download: false, include_deleted: true } } });
  return unwrap(res);
}

async function downloadUrl(id: string, version?: number): Promise<string> {
  const res = await api.GET("/api/v1/documents/{id}", { params: { path: { id }, query: version ? { version } : {} } });
  const d = unwrap(res);
  if (!d.presigned_url) throw new ApiError(res.response.status, "failed_precondition", d.message ?? "no download");
  return d.presigned_url;
}

export function startDownload(url: string) {
  const a = document.createElement("a");
  a.href = url;
  a.rel = "noopener";
  a.download = "";
  document.body.appendChild(a);
  a.click();
  a.remove();
}

function useNotifyError() {
  const { t } = useTranslation();
  return (e: unknown) =>
    notifications.show({ color: "red", message: t("common.error", { message: e instanceof Error ? e.message : String(e) }) });
}

export default function DocumentPage({ edit = false }: { edit?: boolean }) {
  const { id = "" } = useParams();
  const { t } = useTranslation();
  const nav = useNavigate();
  const qc = useQueryClient();
  const { session } = useAuth();
  const writer = can(session, "write");
  const uploads = useUploads();
  const notifyError = useNotifyError();
  const [confirm, setConfirm] = useState<null | "delete" | "archive" | "restore">(null);
  const [tier, setTier] = useState<"expedited" | "standard" | "bulk">("expedited");
  const [days, setDays] = useState<number | string>(7);

  const q = useQuery({
    queryKey: ["document", id],
    queryFn: () => fetchDocument(id),
    refetchInterval: (qq) => (qq.state.data?.restore?.state === "in_progress" || qq.state.data?.status === "pending_upload" ? 2000 : false),
  });
  const versions = useQuery({
    queryKey: ["document", id, "versions"],
    queryFn: async () => unwrap(await api.GET("/api/v1/documents/{id}/versions", { params: { path: { id } } })).versions ?? [],
    enabled: q.isSuccess,
  });
  const doc = q.data;
  const refresh = () => {
    void qc.invalidateQueries({ queryKey: ["document", id] });
    void qc.invalidateQueries({ queryKey: ["documents"] });
  };

  const act = useMutation({
    mutationFn: async (what: "archive" | "restore" | "delete" | "undelete") => {
      const path = { id };
      const ifMatch = doc?.etag ? { "If-Match": `"${doc.etag}"` } : {};
      let res;
      if (what === "archive") res = await api.POST("/api/v1/documents/{id}/archive", { params: { path, header: ifMatch }, body: {} });
      else if (what === "restore")
        res = await api.POST("/api/v1/documents/{id}/restore", { params: { path }, body: { tier, days: Number(days) || 1 } });
      else if (what === "delete") res = await api.DELETE("/api/v1/documents/{id}", { params: { path } });
      else res = await api.POST("/api/v1/documents/{id}/undelete", { params: { path } });
      if (!res.response.ok) throw toError(res);
      return what;
    },
    onSuccess: (what) => {
      setConfirm(null);
      refresh();
      if (what === "delete") {
        notifications.show({
          message: (
            <Group gap="xs">
              <Text size="sm">{t("doc.deleted")}</Text>
              <Anchor component="button" size="sm" onClick={() => act.mutate("undelete")}>{t("doc.undo")}</Anchor>
            </Group>
          ),
        });
        nav("/documents");
      } else if (what === "archive") notifications.show({ message: t("doc.archived") });
      else if (what === "undelete") notifications.show({ message: t("trash.restored") });
    },
    onError: notifyError,
  });

  const download = async (version?: number) => {
    try {
      startDownload(await downloadUrl(id, version));
    } catch (e) {
      notifyError(e);
    }
  };

  if (q.isPending) return <Center h="50vh"><Loader aria-label={t("common.loading")} /></Center>;
  if (q.isError || !doc)
    return (
      <Alert color="red" icon={<IconInfoCircle />} title={t("notFound.title")} role="alert">
        {q.error instanceof ApiError && q.error.status === 404 ? t("doc.notFound") : t("common.error", { message: q.error?.message ?? "" })}
      </Alert>
    );

  const status = doc.status ?? "active";
  const restoreState = doc.restore?.state;
  const readable = status === "active" || (status === "archived" && restoreState === "restored");
  const type = (doc.detected_content_type || doc.content_type || "").split(";")[0]!.trim();

  return (
    <Stack gap="md">
      <Breadcrumbs>
        <Anchor component={Link} to="/documents" size="sm">{t("nav.documents")}</Anchor>
        <Text size="sm" c="dimmed">{doc.number}</Text>
      </Breadcrumbs>
      <Group justify="space-between" align="flex-start" wrap="wrap">
        <Thumb url={doc.thumbnail_url} alt={t("docs.thumbAlt", { title: doc.title || doc.file_name })} size={64} />
        <Stack gap={4} style={{ minWidth: 0, flex: 1 }}>
          <Group gap="sm">
            <Title order={2} data-testid="doc-title" style={{ wordBreak: "break-word" }}>{doc.title || doc.file_name}</Title>
            <StatusBadge doc={doc} />
          </Group>
          <Text c="dimmed" size="sm">{doc.file_name} · {bytes(doc.size)} · {t("doc.version")} {doc.current_version}</Text>
        </Stack>
        <Group gap="xs">
          <Button leftSection={<IconDownload size={16} />} onClick={() => void download()} disabled={!readable} data-testid="download">
            {t("doc.download")}
          </Button>
          {writer && status !== "deleted" && (
            <Button variant="default" leftSection={<IconEdit size={16} />} component={Link} to={`/documents/${id}/edit`} data-testid="edit">
              {t("doc.edit")}
            </Button>
          )}
          {writer && status === "deleted" && (
            <Button leftSection={<IconArrowBackUp size={16} />} onClick={() => act.mutate("undelete")} loading={act.isPending} data-testid="undelete">
              {t("doc.undelete")}
            </Button>
          )}
          {writer && status !== "deleted" && (
            <Menu position="bottom-end" withinPortal>
              <Menu.Target>
                <ActionIcon variant="default" size="lg" aria-label={t("common.actions")} data-testid="doc-actions"><IconDots size={18} /></ActionIcon>
              </Menu.Target>
              <Menu.Dropdown>
                {status === "active" && (
                  <Menu.Item leftSection={<IconCloudUpload size={16} />} onClick={() => uploads.pick({ kind: "version", documentId: id })} data-testid="new-version">
                    {t("upload.newVersion")}
                  </Menu.Item>
                )}
                {status === "active" && (
                  <Menu.Item leftSection={<IconArchive size={16} />} onClick={() => setConfirm("archive")} data-testid="archive">{t("doc.archive")}</Menu.Item>
                )}
                {status === "archived" && restoreState !== "in_progress" && (
                  <Menu.Item leftSection={<IconRestore size={16} />} onClick={() => setConfirm("restore")} data-testid="restore">{t("doc.restore")}</Menu.Item>
                )}
                <Menu.Divider />
                <Menu.Item color="red" leftSection={<IconTrash size={16} />} onClick={() => setConfirm("delete")} data-testid="delete">{t("common.delete")}</Menu.Item>
              </Menu.Dropdown>
            </Menu>
          )}
        </Group>
      </Group>

      {status === "archived" && (
        <Alert color={restoreState === "restored" ? "cyan" : restoreState === "in_progress" ? "orange" : "violet"} icon={restoreState === "in_progress" ? <Loader size="xs" /> : <IconArchive size={18} />} data-testid="archive-note">
          {restoreState === "in_progress"
            ? t("doc.restoring")
            : restoreState === "restored"
              ? t("doc.restoredUntil", { time: when(doc.restore?.expire_time) })
              : t("doc.archivedNote")}
        </Alert>
      )}
      {doc.upload_failure_reason && (
        <Alert color="red" icon={<IconAlertTriangle size={18} />} title={t("doc.uploadFailedTitle")} data-testid="upload-failed">
          <Stack gap="xs" align="flex-start">
            <Text size="sm">{t("doc.uploadFailedBody", { reason: doc.upload_failure_reason })}</Text>
            {writer && (status === "active" || status === "pending_upload") && (
              // A refused new version: upload the version again. A refused
              // first upload leaves a document without content, which takes
              // no version: the file goes up as a new document.
              <Button size="xs" color="red" variant="light" leftSection={<IconCloudUpload size={14} />} data-testid="upload-again"
                onClick={() => uploads.pick(status === "active" ? { kind: "version", documentId: id } : undefined)}>
                {t("doc.uploadAgain")}
              </Button>
            )}
          </Stack>
        </Alert>
      )}
      {status === "deleted" && <Alert color="gray" icon={<IconTrash size={18} />}>{t("doc.deletedNote", { time: when(doc.purge_time) })}</Alert>}

      <Grid gap="md">
        <Grid.Col span={{ base: 12, md: 8 }}>
          <Stack gap="md">
            <Card withBorder radius="md" padding="md">
              <Title order={3} size="h4" mb="sm">{t("doc.preview")}</Title>
              <Preview id={id} type={type} size={doc.size ?? 0} readable={readable} version={doc.current_version ?? 0} />
            </Card>
            <Card withBorder radius="md" padding="md">
              <Group justify="space-between" mb="sm">
                <Title order={3} size="h4">{t("doc.versions")}</Title>
                {writer && status === "active" && (
                  <Button size="xs" variant="light" leftSection={<IconCloudUpload size={14} />} onClick={() => uploads.pick({ kind: "version", documentId: id })}>
                    {t("upload.newVersion")}
                  </Button>
                )}
              </Group>
              <Table.ScrollContainer minWidth={520}>
                <Table data-testid="versions">
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>{t("doc.version")}</Table.Th>
                      <Table.Th>{t("doc.fileName")}</Table.Th>
                      <Table.Th ta="right">{t("doc.size")}</Table.Th>
                      <Table.Th>{t("doc.created")}</Table.Th>
                      <Table.Th><span className="kumo-skip">{t("doc.download")}</span></Table.Th>
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {(versions.data ?? []).map((v) => (
                      <Table.Tr key={v.version} data-testid="version-row" data-version={v.version}>
                        <Table.Td><Badge variant="light" radius="sm">v{v.version}</Badge></Table.Td>
                        <Table.Td><Text size="sm" truncate="end" maw={220}>{v.file_name}</Text></Table.Td>
                        <Table.Td ta="right"><Text size="sm">{bytes(v.size)}</Text></Table.Td>
                        <Table.Td><Text size="sm" c="dimmed">{when(v.complete_time || v.create_time)}</Text></Table.Td>
                        <Table.Td>
                          <Tooltip label={`${t("doc.download")} v${v.version}`}>
                            <ActionIcon variant="subtle" aria-label={`${t("doc.download")} v${v.version}`} disabled={!readable || v.status === "pending_upload"} onClick={() => void download(v.version)} data-testid={`download-v${v.version}`}>
                              <IconDownload size={16} />
                            </ActionIcon>
                          </Tooltip>
                        </Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              </Table.ScrollContainer>
            </Card>
          </Stack>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 4 }}>
          <Card withBorder radius="md" padding="md">
            <Title order={3} size="h4" mb="sm">{t("doc.details")}</Title>
            <Details doc={doc} />
          </Card>
        </Grid.Col>
      </Grid>

      <Modal opened={confirm === "delete"} onClose={() => setConfirm(null)} title={t("doc.deleteTitle")} centered>
        <Text mb="lg">{t("doc.deleteBody", { title: doc.title || doc.file_name })}</Text>
        <Group justify="flex-end">
          <Button variant="default" onClick={() => setConfirm(null)}>{t("common.cancel")}</Button>
          <Button color="red" onClick={() => act.mutate("delete")} loading={act.isPending} data-testid="confirm-delete">{t("common.delete")}</Button>
        </Group>
      </Modal>
      <Modal opened={confirm === "archive"} onClose={() => setConfirm(null)} title={t("doc.archiveTitle")} centered>
        <Text mb="lg">{t("doc.archiveBody")}</Text>
        <Group justify="flex-end">
          <Button variant="default" onClick={() => setConfirm(null)}>{t("common.cancel")}</Button>
          <Button onClick={() => act.mutate("archive")} loading={act.isPending} data-testid="confirm-archive">{t("doc.archive")}</Button>
        </Group>
      </Modal>
      <Modal opened={confirm === "restore"} onClose={() => setConfirm(null)} title={t("doc.restoreTitle")} centered>
        <Stack>
          <Select
            label={t("doc.tier")}
            allowDeselect={false}
            value={tier}
            onChange={(v) => setTier((v as typeof tier) ?? "expedited")}
            data={[
              { value: "expedited", label: t("doc.tierExpedited") },
              { value: "standard", label: t("doc.tierStandard") },
              { value: "bulk", label: t("doc.tierBulk") },
            ]}
          />
          <NumberInput label={t("doc.days")} min={1} max={365} value={days} onChange={setDays} />
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirm(null)}>{t("common.cancel")}</Button>
            <Button onClick={() => act.mutate("restore")} loading={act.isPending} data-testid="confirm-restore">{t("doc.restore")}</Button>
          </Group>
        </Stack>
      </Modal>
      {edit && <EditDialog doc={doc} onClose={() => nav(`/documents/${id}`, { replace: true })} onSaved={refresh} />}
    </Stack>
  );
}

function Details({ doc }: { doc: Document }) {
  const { t } = useTranslation();
  const row = (k: string, v: React.ReactNode) => (
    <Table.Tr key={k}>
      <Table.Th w={130} fw={500} c="dimmed" style={{ verticalAlign: "top" }}>{t(k)}</Table.Th>
      <Table.Td style={{ wordBreak: "break-word" }}>{v}</Table.Td>
    </Table.Tr>
  );
  const meta = doc.metadata && Object.keys(doc.metadata).length ? doc.metadata : null;
  return (
    <Stack gap="sm">
      <Table verticalSpacing={6} fz="sm">
        <Table.Tbody>
          {row("doc.number", <Text ff="monospace" size="sm">{doc.number}</Text>)}
          {row("doc.status", <StatusBadge doc={doc} />)}
          {row("doc.size", bytes(doc.size))}
          {row("doc.type", shortType(doc.content_type))}
          {doc.detected_content_type && row("doc.detected", doc.detected_content_type)}
          {doc.extraction_state && row("doc.extraction", doc.extraction_state)}
          {row("doc.owner", <Text size="sm" className="kumo-mono">{doc.owner_id}</Text>)}
          {row("doc.created", when(doc.create_time))}
          {row("doc.updated", when(doc.update_time))}
          {row("doc.sha256", doc.sha256 ? (
            <Group gap={4} wrap="nowrap">
              <Text className="kumo-mono" data-testid="doc-sha256">{doc.sha256}</Text>
              <CopyButton value={doc.sha256}>
                {({ copied, copy }) => (
                  <ActionIcon size="sm" variant="subtle" onClick={copy} aria-label={t("common.copy")}>
                    {copied ? <IconCheck size={14} /> : <IconCopy size={14} />}
                  </ActionIcon>
                )}
              </CopyButton>
            </Group>
          ) : "—")}
          {row("doc.tags", (doc.tags ?? []).length ? <Group gap={4}>{doc.tags!.map((tg) => <Badge key={tg} variant="outline" radius="sm" size="sm">{tg}</Badge>)}</Group> : "—")}
        </Table.Tbody>
      </Table>
      {doc.description && (
        <div>
          <Text size="sm" fw={500} c="dimmed">{t("doc.description")}</Text>
          <Text size="sm" style={{ whiteSpace: "pre-wrap" }}>{doc.description}</Text>
        </div>
      )}
      {meta && (
        <div>
          <Text size="sm" fw={500} c="dimmed">{t("doc.metadata")}</Text>
          <Paper withBorder p="xs" radius="sm"><Text component="pre" className="kumo-mono" m={0}>{JSON.stringify(meta, null, 2)}</Text></Paper>
        </div>
      )}
    </Stack>
  );
}

function Preview({ id, type, size, readable, version }: { id: string; type: string; size: number; readable: boolean; version: number }) {
  const { t } = useTranslation();
  const kind = SAFE_PREVIEW[type];
  const enabled = readable && !!kind && size <= PREVIEW_MAX;
  const q = useQuery({
    queryKey: ["document", id, "preview", version],
    enabled,
    staleTime: 60_000,
    queryFn: async () => {
      const url = await downloadUrl(id);
      const r = await fetch(url, { credentials: "omit", referrerPolicy: "no-referrer" });
      if (!r.ok) throw new Error(String(r.status));
      const blob = await r.blob();
      if (kind === "text") return { text: (await blob.slice(0, 256 * 1024).text()) };
      // The type is forced to the safe one we chose: never text/html or SVG.
      return { url: URL.createObjectURL(new Blob([blob], { type })) };
    },
  });
  useEffect(() => () => { if (q.data?.url) URL.revokeObjectURL(q.data.url); }, [q.data]);
  if (!kind || !readable) return <Text c="dimmed" size="sm">{t("doc.previewNone")}</Text>;
  if (size > PREVIEW_MAX) return <Text c="dimmed" size="sm">{t("doc.previewTooBig")}</Text>;
  if (q.isPending) return <Center h={120}><Loader size="sm" /></Center>;
  if (q.isError || !q.data) return <Text c="dimmed" size="sm">{t("doc.previewFailed")}</Text>;
  if ("text" in q.data)
    return (
      <Paper withBorder p="sm" radius="sm" className="kumo-preview-text" data-testid="preview-text">
        <Text component="pre" ff="monospace" size="sm" m={0}>{q.data.text}</Text>
      </Paper>
    );
  if (kind === "image") return <img className="kumo-preview-img" src={q.data.url} alt={t("doc.preview")} data-testid="preview-image" />;
  return <iframe className="kumo-preview-frame" src={q.data.url} title={t("doc.preview")} data-testid="preview-pdf" />;
}

function EditDialog({ doc, onClose, onSaved }: { doc: Document; onClose: () => void; onSaved: () => void }) {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const [base, setBase] = useState<Document>(doc);
  const [v, setV] = useState<EditValues>(() => valuesOf(doc));
  const [theirs, setTheirs] = useState<Document | null>(null);
  const [busy, setBusy] = useState(false);
  const [metaError, setMetaError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function save(etag: string | undefined) {
    let metadata: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(v.metadata || "{}");
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error();
      metadata = parsed as Record<string, unknown>;
      setMetaError(null);
    } catch {
      setMetaError(t("doc.metadataInvalid"));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const res = await api.PATCH("/api/v1/documents/{id}", {
        params: { path: { id: doc.id ?? "" }, header: { "If-Match": `"${etag ?? ""}"` } },
        body: { title: v.title, description: v.description, tags: v.tags, metadata },
      });
      if (res.response.status === 412) {
        const latest = await fetchDocument(doc.id ?? "");
        setTheirs(latest);
        return;
      }
      if (!res.response.ok) throw toError(res);
      setTheirs(null);
      qc.setQueryData(["document", doc.id], res.data?.document);
      onSaved();
      notifications.show({ color: "green", message: t("doc.saved") });
      onClose();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <Modal opened={!theirs} onClose={onClose} title={t("doc.editTitle")} size="lg" centered>
        <form onSubmit={(e) => { e.preventDefault(); void save(base.etag); }}>
          <Stack>
            {error && <Alert color="red" role="alert">{error}</Alert>}
            <TextInput label={t("doc.title")} value={v.title} onChange={(e) => setV({ ...v, title: e.currentTarget.value })} data-testid="edit-title" data-autofocus />
            <Textarea label={t("doc.description")} autosize minRows={2} value={v.description} onChange={(e) => setV({ ...v, description: e.currentTarget.value })} />
            <TagsInput label={t("doc.tags")} value={v.tags} onChange={(tags) => setV({ ...v, tags })} clearable />
            <JsonInput label={t("doc.metadata")} autosize minRows={3} value={v.metadata} onChange={(m) => setV({ ...v, metadata: m })} error={metaError} formatOnBlur />
            <Group justify="flex-end">
              <Button variant="default" onClick={onClose}>{t("common.cancel")}</Button>
              <Button type="submit" loading={busy} data-testid="edit-save">{t("common.save")}</Button>
            </Group>
          </Stack>
        </form>
      </Modal>
      <ConflictDialog
        opened={!!theirs}
        mine={v}
        theirs={theirs ? valuesOf(theirs) : null}
        busy={busy}
        onClose={() => setTheirs(null)}
        onReload={() => {
          if (!theirs) return;
          setBase(theirs);
          setV(valuesOf(theirs));
          qc.setQueryData(["document", doc.id], theirs);
          setTheirs(null);
        }}
        onOverwrite={() => {
          if (!theirs) return;
          setBase(theirs);
          void save(theirs.etag);
        }}
      />
    </>
  );
}
