import { useMemo } from "react";
import { Button, Center, Group, Loader, Paper, Stack, Text, ThemeIcon, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconArrowBackUp, IconTrash } from "@tabler/icons-react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useSearchParams } from "react-router-dom";
import { useTranslation } from "../i18n";
import { api, toError } from "../api/client";
import { can, useAuth } from "../auth";
import { DocTable, useDocumentList } from "./Documents";

export default function TrashPage() {
  const { t } = useTranslation();
  const [sp] = useSearchParams();
  const qc = useQueryClient();
  const { session } = useAuth();
  const writer = can(session, "write");
  const q = useDocumentList(sp, { status: "deleted" });
  const docs = useMemo(() => q.data?.pages.flatMap((p) => p.documents ?? []) ?? [], [q.data]);
  const undelete = useMutation({
    mutationFn: async (id: string) => {
      const res = await api.POST("/api/v1/documents/{id}/undelete", { params: { path: { id } } });
      if (!res.response.ok) throw toError(res);
    },
    onSuccess: (_data, id) => {
      notifications.show({ color: "green", message: t("trash.restored") });
      void qc.invalidateQueries({ queryKey: ["documents"] });
      void qc.invalidateQueries({ queryKey: ["document", id] });
    },
    onError: (e) => notifications.show({ color: "red", message: t("common.error", { message: e.message }) }),
  });
  return (
    <Stack>
      <Title order={2}>{t("trash.title")}</Title>
      {q.isPending ? (
        <Center h={200}><Loader /></Center>
      ) : docs.length === 0 ? (
        <Paper withBorder radius="lg" p="xl" style={{ borderStyle: "dashed" }}>
          <Stack align="center" py="lg">
            <ThemeIcon size={56} radius="xl" variant="light" color="gray" aria-hidden><IconTrash size={28} /></ThemeIcon>
            <Text c="dimmed">{t("trash.empty")}</Text>
          </Stack>
        </Paper>
      ) : (
        <Paper withBorder radius="md">
          <DocTable
            docs={docs}
            trash
            actions={writer ? (d) => (
              <Button size="xs" variant="light" leftSection={<IconArrowBackUp size={14} />} onClick={() => undelete.mutate(d.id ?? "")} data-testid="trash-undelete">
                {t("trash.restore")}
              </Button>
            ) : undefined}
          />
          {q.hasNextPage && (
            <Group justify="center" p="sm">
              <Button variant="subtle" onClick={() => void q.fetchNextPage()} loading={q.isFetchingNextPage}>{t("common.loadMore")}</Button>
            </Group>
          )}
        </Paper>
      )}
    </Stack>
  );
}
