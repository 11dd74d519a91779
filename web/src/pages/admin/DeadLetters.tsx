import { Button, Center, Loader, Paper, Stack, Table, Text, Title, ThemeIcon } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconCircleCheck } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useTranslation } from "../../i18n";
import { api, toError, unwrap } from "../../api/client";
import { when } from "../../lib/format";

type Dl = Record<string, unknown>;
const s = (e: Dl, ...keys: string[]) => {
  for (const k of keys) if ((typeof e[k] === "string" || typeof e[k] === "number") && e[k] !== "") return String(e[k]);
  return "";
};

export default function DeadLettersPage() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const q = useQuery({
    queryKey: ["dead-letters"],
    queryFn: async () => (unwrap(await api.GET("/api/v1/dead-letters", { params: { query: { page_size: 100 } } })).dead_letters ?? []) as Dl[],
  });
  const redrive = useMutation({
    mutationFn: async (id: string) => {
      const res = await api.POST("/api/v1/dead-letters/{id}/redrive", { params: { path: { id } } });
      if (!res.response.ok) throw toError(res);
    },
    onSuccess: () => {
      notifications.show({ color: "green", message: t("admin.redriven") });
      void qc.invalidateQueries({ queryKey: ["dead-letters"] });
    },
    onError: (e) => notifications.show({ color: "red", message: t("common.error", { message: e.message }) }),
  });
  return (
    <Stack>
      <Title order={2}>{t("admin.deadLetters")}</Title>
      {q.isPending ? <Center h={200}><Loader /></Center> : (q.data ?? []).length === 0 ? (
        <Paper withBorder radius="lg" p="xl" style={{ borderStyle: "dashed" }}>
          <Stack align="center">
            <ThemeIcon size={56} radius="xl" variant="light" color="teal" aria-hidden><IconCircleCheck size={28} /></ThemeIcon>
            <Text c="dimmed" ta="center">{t("admin.noDeadLetters")}</Text>
          </Stack>
        </Paper>
      ) : (
        <Paper withBorder radius="md">
          <Table.ScrollContainer minWidth={720}>
            <Table verticalSpacing="sm" fz="sm">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t("admin.time")}</Table.Th>
                  <Table.Th>{t("admin.job")}</Table.Th>
                  <Table.Th>{t("admin.document")}</Table.Th>
                  <Table.Th>{t("admin.attempts")}</Table.Th>
                  <Table.Th>{t("admin.lastError")}</Table.Th>
                  <Table.Th><span className="kumo-skip">{t("common.actions")}</span></Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {(q.data ?? []).map((d, i) => (
                  <Table.Tr key={s(d, "id") || i}>
                    <Table.Td>{when(s(d, "create_time", "dead_time"))}</Table.Td>
                    <Table.Td><Text size="sm" fw={500}>{s(d, "kind", "job_kind", "type")}</Text></Table.Td>
                    <Table.Td><Text className="kumo-mono">{s(d, "document_id")}</Text></Table.Td>
                    <Table.Td>{s(d, "attempts")}</Table.Td>
                    <Table.Td><Text size="sm" lineClamp={2}>{s(d, "last_error", "error")}</Text></Table.Td>
                    <Table.Td><Button size="xs" variant="light" loading={redrive.isPending} onClick={() => redrive.mutate(s(d, "id"))}>{t("admin.redrive")}</Button></Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </Paper>
      )}
    </Stack>
  );
}
