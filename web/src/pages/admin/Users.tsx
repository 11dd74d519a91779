import { useState } from "react";
import { ActionIcon, Alert, Button, Center, Group, Loader, Modal, Paper, PasswordInput, Select, Stack, Switch, Table, Text, TextInput, Title, Tooltip } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconTrash, IconUserPlus } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useTranslation } from "../../i18n";
import { api, toError, unwrap, type User } from "../../api/client";
import { useAuth } from "../../auth";
import { when } from "../../lib/format";
import { useRoleOptions } from "./common";

type Role = "admin" | "editor" | "viewer";

export default function UsersPage() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const { session } = useAuth();
  const roles = useRoleOptions();
  const [creating, setCreating] = useState(false);
  const [del, setDel] = useState<User | null>(null);
  const [form, setForm] = useState({ email: "", display_name: "", role: "editor" as Role, password: "" });
  const [formError, setFormError] = useState<string | null>(null);
  const q = useQuery({
    queryKey: ["users"],
    queryFn: async () => unwrap(await api.GET("/api/v1/users", { params: { query: { page_size: 100 } } })).users ?? [],
  });
  const onError = (e: Error) => notifications.show({ color: "red", message: t("common.error", { message: e.message }) });
  const update = useMutation({
    mutationFn: async ({ u, patch }: { u: User; patch: { role?: Role; disabled?: boolean } }) => {
      const res = await api.PATCH("/api/v1/users/{id}", { params: { path: { id: u.id ?? "" } }, body: patch });
      if (!res.response.ok) throw toError(res);
    },
    onSuccess: () => void qc.invalidateQueries({ queryKey: ["users"] }),
    onError,
  });
  const remove = useMutation({
    mutationFn: async (u: User) => {
      const res = await api.DELETE("/api/v1/users/{id}", { params: { path: { id: u.id ?? "" } } });
      if (!res.response.ok) throw toError(res);
    },
    onSuccess: () => {
      setDel(null);
      void qc.invalidateQueries({ queryKey: ["users"] });
    },
    onError,
  });
  const create = useMutation({
    mutationFn: async () => {
      const res = await api.POST("/api/v1/users", { body: { ...form } });
      if (!res.response.ok) throw toError(res);
    },
    onSuccess: () => {
      setCreating(false);
      setForm({ email: "", display_name: "", role: "editor", password: "" });
      void qc.invalidateQueries({ queryKey: ["users"] });
    },
    onError: (e) => setFormError(e.message),
  });

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>{t("admin.users")}</Title>
        <Button leftSection={<IconUserPlus size={16} />} onClick={() => { setFormError(null); setCreating(true); }}>{t("admin.newUser")}</Button>
      </Group>
      {q.isPending ? <Center h={200}><Loader /></Center> : (
        <Paper withBorder radius="md">
          <Table.ScrollContainer minWidth={640}>
            <Table verticalSpacing="sm" highlightOnHover>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t("admin.email")}</Table.Th>
                  <Table.Th>{t("admin.displayName")}</Table.Th>
                  <Table.Th>{t("admin.role")}</Table.Th>
                  <Table.Th>{t("admin.disabled")}</Table.Th>
                  <Table.Th>{t("doc.created")}</Table.Th>
                  <Table.Th><span className="kumo-skip">{t("common.actions")}</span></Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {(q.data ?? []).map((u) => {
                  const self = u.id === session?.userId;
                  return (
                    <Table.Tr key={u.id}>
                      <Table.Td><Text size="sm" fw={500}>{u.email}</Text></Table.Td>
                      <Table.Td><Text size="sm">{u.display_name || "—"}</Text></Table.Td>
                      <Table.Td>
                        <Select
                          size="xs"
                          w={150}
                          aria-label={`${t("admin.role")}: ${u.email}`}
                          data={roles}
                          value={u.role ?? null}
                          allowDeselect={false}
                          disabled={self || u.role === "service"}
                          onChange={(r) => r && update.mutate({ u, patch: { role: r as Role } })}
                        />
                      </Table.Td>
                      <Table.Td>
                        <Switch
                          aria-label={`${t("admin.disabled")}: ${u.email}`}
                          checked={!!u.disabled}
                          disabled={self}
                          onChange={(e) => update.mutate({ u, patch: { disabled: e.currentTarget.checked } })}
                        />
                      </Table.Td>
                      <Table.Td><Text size="sm" c="dimmed">{when(u.create_time)}</Text></Table.Td>
                      <Table.Td>
                        <Tooltip label={t("common.delete")}>
                          <ActionIcon variant="subtle" color="red" disabled={self} aria-label={`${t("common.delete")}: ${u.email}`} onClick={() => setDel(u)}>
                            <IconTrash size={16} />
                          </ActionIcon>
                        </Tooltip>
                      </Table.Td>
                    </Table.Tr>
                  );
                })}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </Paper>
      )}
      <Modal opened={creating} onClose={() => setCreating(false)} title={t("admin.newUser")} centered>
        <form onSubmit={(e) => { e.preventDefault(); create.mutate(); }}>
          <Stack>
            {formError && <Alert color="red" role="alert">{formError}</Alert>}
            <TextInput label={t("admin.email")} type="email" required value={form.email} onChange={(e) => setForm({ ...form, email: e.currentTarget.value })} data-autofocus />
            <TextInput label={t("admin.displayName")} value={form.display_name} onChange={(e) => setForm({ ...form, display_name: e.currentTarget.value })} />
            <Select label={t("admin.role")} data={roles} value={form.role} allowDeselect={false} onChange={(r) => setForm({ ...form, role: (r as Role) ?? "editor" })} data-testid="user-role" />
            <PasswordInput label={t("admin.password")} required value={form.password} onChange={(e) => setForm({ ...form, password: e.currentTarget.value })} autoComplete="new-password" />
            <Group justify="flex-end">
              <Button variant="default" onClick={() => setCreating(false)}>{t("common.cancel")}</Button>
              <Button type="submit" loading={create.isPending}>{t("common.create")}</Button>
            </Group>
          </Stack>
        </form>
      </Modal>
      <Modal opened={!!del} onClose={() => setDel(null)} title={t("admin.deleteUser")} centered>
        <Text mb="lg">{t("admin.deleteUserBody", { email: del?.email ?? "" })}</Text>
        <Group justify="flex-end">
          <Button variant="default" onClick={() => setDel(null)}>{t("common.cancel")}</Button>
          <Button color="red" loading={remove.isPending} onClick={() => del && remove.mutate(del)}>{t("common.delete")}</Button>
        </Group>
      </Modal>
    </Stack>
  );
}
