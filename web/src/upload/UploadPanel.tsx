import { useSyncExternalStore } from "react";
import { ActionIcon, Button, Group, Paper, Progress, ScrollArea, Stack, Text, Tooltip } from "@mantine/core";
import { IconCheck, IconPlayerStop, IconRefresh, IconX } from "@tabler/icons-react";
import { useTranslation } from "../i18n";
import { bytes } from "../lib/format";
import { UploadQueue, type UploadItem } from "./queue";

function itemLabel(t: (k: string, o?: Record<string, unknown>) => string, i: UploadItem): string {
  switch (i.state) {
    case "hashing":
      return t("upload.hashing", { percent: Math.floor((100 * i.hashed) / Math.max(i.file.size, 1)) });
    case "uploading":
      return i.partsTotal > 1
        ? `${t("upload.uploading")} · ${t("upload.parts", { done: i.partsDone, total: i.partsTotal })}`
        : t("upload.uploading");
    case "error":
      return t("upload.error", { message: i.error ?? "" });
    default:
      return t(`upload.${i.state}`);
  }
}

export default function UploadPanel({ queue }: { queue: UploadQueue }) {
  const items = useSyncExternalStore(queue.subscribe, queue.getSnapshot);
  const { t } = useTranslation();
  if (!items.length) return null;
  const done = items.filter((i) => i.state === "done").length;
  const live = items.filter((i) => i.state !== "canceled").length;
  const overall = UploadQueue.progress(items);
  return (
    <Paper
      shadow="lg"
      withBorder
      p="sm"
      radius="lg"
      role="region"
      aria-label={t("upload.title")}
      style={{ position: "fixed", right: 16, bottom: 16, width: "min(420px, calc(100vw - 32px))", zIndex: 300 }}
    >
      <Group justify="space-between" mb={6}>
        <Text fw={600}>{t("upload.title")} · {t("upload.overall", { done, total: live })}</Text>
        <Button size="compact-xs" variant="subtle" onClick={() => queue.clearFinished()}>{t("upload.clearDone")}</Button>
      </Group>
      <Progress value={overall * 100} size="sm" mb="xs" aria-label={t("upload.title")} />
      <ScrollArea.Autosize mah={260}>
        <Stack gap={8}>
          {items.map((i) => {
            const p = i.state === "done" ? 100 : i.state === "hashing" ? 0 : (100 * i.uploaded) / Math.max(i.file.size, 1);
            return (
              <div key={i.id} data-testid="upload-item" data-state={i.state}>
                <Group justify="space-between" wrap="nowrap" gap={6}>
                  <Text size="sm" truncate="end" style={{ flex: 1 }} title={i.file.name}>{i.file.name}</Text>
                  <Text size="xs" c="dimmed">{bytes(i.file.size)}</Text>
                  {i.state === "done" && <IconCheck size={16} color="var(--mantine-color-green-6)" aria-hidden />}
                  {(i.state === "error" || i.state === "canceled") && (
                    <Tooltip label={t("upload.retry")}>
                      <ActionIcon size="sm" variant="subtle" aria-label={`${t("upload.retry")}: ${i.file.name}`} onClick={() => queue.retry(i.id)}>
                        <IconRefresh size={16} />
                      </ActionIcon>
                    </Tooltip>
                  )}
                  {(i.state === "queued" || i.state === "hashing" || i.state === "uploading" || i.state === "completing") && (
                    <Tooltip label={t("upload.cancel")}>
                      <ActionIcon size="sm" variant="subtle" color="red" aria-label={`${t("upload.cancel")}: ${i.file.name}`} onClick={() => queue.cancel(i.id)}>
                        {i.state === "queued" ? <IconX size={16} /> : <IconPlayerStop size={16} />}
                      </ActionIcon>
                    </Tooltip>
                  )}
                </Group>
                <Progress
                  value={p}
                  size="xs"
                  color={i.state === "error" ? "red" : i.state === "done" ? "green" : undefined}
                  aria-label={i.file.name}
                />
                <Text size="xs" c={i.state === "error" ? "red" : "dimmed"}>{itemLabel(t, i)}</Text>
              </div>
            );
          })}
        </Stack>
      </ScrollArea.Autosize>
    </Paper>
  );
}
