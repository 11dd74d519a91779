// Shown when a save meets 412 (someone else saved first): both versions
// side by side; the person keeps theirs (reload) or writes over it.
import { Button, Group, Modal, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { useTranslation } from "../i18n";

export interface EditValues {
  title: string;
  description: string;
  tags: string[];
  metadata: string; // JSON text
}

function rows(v: EditValues) {
  return [
    ["doc.title", v.title],
    ["doc.description", v.description],
    ["doc.tags", v.tags.join(", ")],
    ["doc.metadata", v.metadata],
  ] as const;
}

export function ConflictDialog({
  opened, mine, theirs, onReload, onOverwrite, onClose, busy,
}: {
  opened: boolean;
  mine: EditValues;
  theirs: EditValues | null;
  onReload: () => void;
  onOverwrite: () => void;
  onClose: () => void;
  busy?: boolean;
}) {
  const { t } = useTranslation();
  const side = (label: string, v: EditValues | null, other: EditValues | null, testid: string) => (
    <Stack gap={6} data-testid={testid}>
      <Title order={4}>{label}</Title>
      <Table withTableBorder layout="fixed">
        <Table.Tbody>
          {v && rows(v).map(([k, val], i) => {
            const differs = other ? rows(other)[i]![1] !== val : false;
            return (
              <Table.Tr key={k} bg={differs ? "var(--mantine-color-yellow-light)" : undefined}>
                <Table.Th w={110}>{t(k)}</Table.Th>
                <Table.Td><Text size="sm" style={{ whiteSpace: "pre-wrap", wordBreak: "break-word" }}>{val || "—"}</Text></Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
    </Stack>
  );
  return (
    <Modal opened={opened} onClose={onClose} title={t("doc.conflictTitle")} size="xl" centered>
      <Text mb="md">{t("doc.conflictBody")}</Text>
      <SimpleGrid cols={{ base: 1, sm: 2 }}>
        {side(t("doc.theirs"), theirs, mine, "conflict-theirs")}
        {side(t("doc.yours"), mine, theirs, "conflict-mine")}
      </SimpleGrid>
      <Group justify="flex-end" mt="lg">
        <Button variant="default" onClick={onReload} data-testid="conflict-reload">{t("doc.reloadTheirs")}</Button>
        <Button color="red" onClick={onOverwrite} loading={busy} data-testid="conflict-overwrite">{t("doc.overwrite")}</Button>
      </Group>
    </Modal>
  );
}
