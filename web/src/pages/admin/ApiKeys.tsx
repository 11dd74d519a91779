import { useState } from "react";
import { Alert, Badge, Button, Center, Code, CopyButton, Group, Loader, Modal, Paper, Select, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { IconAlertTriangle, IconCheck, IconCopy, IconKey } from "@tabler/icons-react";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useTranslation } from "../../i18n";
import { api, toError, unwrap, type ApiKey } from "../../api/client";
import { dayBound, when } from "../../lib/format";
import { RoleBadge, useRoleOptions } from "./common";

type Role = "admin" | "editor" | "viewer";

export default function ApiKeysPage() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const roles = useRoleOptions();
  const [creating, setCreating] = useState(false);
  const [form, setForm] = useState({ name: "", role: "viewer" as Role, expires: "" });
  const [secret, setSecret] = useState<string | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const q = useQuery({
    queryKey: ["api-keys"],
    queryFn: async () => unwrap(await api.GET("/api/v1/api-keys", { params: { query: { page_size: 100 } } })).api_keys ?? [],
  });
  const create = useMutation({
    mutationFn: async () => {
      const exp = dayBound(form.expires || null, true);
      const res = await api.POST("/api/v1/api-keys", { body: { name: form.name, role: form.role, ...(exp ? { expires_at: exp } : {}) } });
      if (!res.data) throw toError(res);
      return res.data.secret ?? "";
    },
    onSuccess: (s) => {
      setCreating(false);
      setSecret(s);
      setForm({ name: "", role: "viewer", expires: "" });
      void qc.invalidateQueries({ queryKey: ["api-keys"] });
    },
    onError: (e) => notifications.show({ color: "red", message: t("common.error", { message: e.message }) }),
  });
  const revoke = useMutation({
    mutationFn: async (k: ApiKey) => {
      const res = await api.DELETE("/api/v1/api-keys/{id}", { params: { path: { id: k.id ?? "" } } });
      if (!res.response.ok) throw toError(res);
    },
    onSuccess: () => {
      setRevoking(null);
      void qc.invalidateQueries({ queryKey: ["api-keys"] });
    },
    onError: (e) => notifications.show({ color: "red", message: t("common.error", { message: e.message }) }),
  });
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>{t("admin.apiKeys")}</Title>
        <Button leftSection={<IconKey size={16} />} onClick={() => setCreating(true)} data-testid="new-key">{t("admin.newKey")}</Button>
      </Group>
      {q.isPending ? <Center h={200}><Loader /></Center> : (
        <Paper withBorder radius="md">
          <Table.ScrollContainer minWidth={640}>
            <Table verticalSpacing="sm" data-testid="keys-table">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t("admin.keyName")}</Table.Th>
                  <Table.Th>{t("admin.role")}</Table.Th>
                  <Table.Th>{t("doc.created")}</Table.Th>
                  <Table.Th>{t("admin.expires")}</Table.Th>
                  <Table.Th>{t("admin.lastUsed")}</Table.Th>
                  <Table.Th>{t("doc.status")}</Table.Th>
                  <Table.Th><span className="kumo-skip">{t("common.actions")}</span></Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {(q.data ?? []).map((k) => {
                  const revoked = !!k.revoke_time && new Date(k.revoke_time).getTime() > 0;
                  return (
                    <Table.Tr key={k.id} data-testid="key-row" data-name={k.name}>
                      <Table.Td><Text size="sm" fw={500}>{k.name}</Text><Text size="xs" c="dimmed" ff="monospace">{k.id}</Text></Table.Td>
                      <Table.Td><RoleBadge role={k.role} /></Table.Td>
                      <Table.Td><Text size="sm" c="dimmed">{when(k.create_time)}</Text></Table.Td>
                      <Table.Td><Text size="sm" c="dimmed">{when(k.expire_time)}</Text></Table.Td>
                      <Table.Td><Text size="sm" c="dimmed">{when(k.last_used_time)}</Text></Table.Td>
                      <Table.Td>{revoked ? <Badge color="gray" variant="light">{t("admin.revoked")}</Badge> : <Badge color="teal" variant="light">{t("admin.active")}</Badge>}</Table.Td>
                      <Table.Td>
                        {!revoked && (
                          <Button size="xs" variant="light" color="red" onClick={() => setRevoking(k)} data-testid="revoke-key">{t("admin.revoke")}</Button>
                        )}
                      </Table.Td>
                    </Table.Tr>
                  );
                })}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </Paper>
      )}
      <Modal opened={creating} onClose={() => setCreating(false)} title={t("admin.newKey")} centered>
        <form onSubmit={(e) => { e.preventDefault(); create.mutate(); }}>
          <Stack>
            <TextInput label={t("admin.keyName")} required value={form.name} onChange={(e) => setForm({ ...form, name: e.currentTarget.value })} data-autofocus data-testid="key-name" />
            <Select label={t("admin.role")} data={roles} value={form.role} allowDeselect={false} onChange={(r) => setForm({ ...form, role: (r as Role) ?? "viewer" })} data-testid="key-role" />
            <TextInput type="date" label={t("admin.expires")} value={form.expires} onChange={(e) => setForm({ ...form, expires: e.currentTarget.value })} />
            <Group justify="flex-end">
              <Button variant="default" onClick={() => setCreating(false)}>{t("common.cancel")}</Button>
              <Button type="submit" loading={create.isPending} disabled={!form.name} data-testid="create-key">{t("common.create")}</Button>
            </Group>
          </Stack>
        </form>
      </Modal>
      <Modal opened={!!secret} onClose={() => setSecret(null)} title={t("admin.secretTitle")} centered size="lg" closeOnClickOutside={false}>
        <Stack>
          <Alert color="orange" icon={<IconAlertTriangle size={18} />}>{t("admin.secretBody")}</Alert>
          <Group wrap="nowrap" align="center">
            <Code block style={{ flex: 1, wordBreak: "break-all", whiteSpace: "pre-wrap" }} data-testid="key-secret">{secret}</Code>
            <CopyButton value={secret ?? ""}>
              {({ copied, copy }) => (
                <Button onClick={copy} color={copied ? "teal" : undefined} leftSection={copied ? <IconCheck size={16} /> : <IconCopy size={16} />}>
                  {copied ? t("common.copied") : t("common.copy")}
                </Button>
              )}
            </CopyButton>
          </Group>
          <Group justify="flex-end"><Button variant="default" onClick={() => setSecret(null)} data-testid="close-secret">{t("common.close")}</Button></Group>
        </Stack>
      </Modal>
      <Modal opened={!!revoking} onClose={() => setRevoking(null)} title={t("admin.revokeTitle")} centered>
        <Text mb="lg">{t("admin.revokeBody", { name: revoking?.name ?? "" })}</Text>
        <Group justify="flex-end">
          <Button variant="default" onClick={() => setRevoking(null)}>{t("common.cancel")}</Button>
          <Button color="red" loading={revoke.isPending} onClick={() => revoking && revoke.mutate(revoking)} data-testid="confirm-revoke">{t("admin.revoke")}</Button>
        </Group>
      </Modal>
    </Stack>
  );
}
