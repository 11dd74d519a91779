import { Alert, Badge, Card, Group, Stack, Table, Text, Title } from "@mantine/core";
import { IconInfoCircle } from "@tabler/icons-react";
import { useTranslation } from "../i18n";
import { useAuth } from "../auth";

export default function ProfilePage() {
  const { t } = useTranslation();
  const { session } = useAuth();
  const u = session?.user;
  return (
    <Stack maw={640}>
      <Title order={2}>{t("profile.title")}</Title>
      <Card withBorder radius="md">
        <Table>
          <Table.Tbody>
            <Table.Tr><Table.Th w={160}>{t("admin.email")}</Table.Th><Table.Td>{u?.email}</Table.Td></Table.Tr>
            <Table.Tr><Table.Th>{t("admin.displayName")}</Table.Th><Table.Td>{u?.display_name || "—"}</Table.Td></Table.Tr>
            <Table.Tr><Table.Th>{t("profile.roles")}</Table.Th><Table.Td><Group gap={4}>{session?.roles.map((r) => <Badge key={r} variant="light">{r}</Badge>)}</Group></Table.Td></Table.Tr>
            <Table.Tr><Table.Th>{t("profile.userId")}</Table.Th><Table.Td><Text className="kumo-mono">{session?.userId}</Text></Table.Td></Table.Tr>
            <Table.Tr><Table.Th>{t("profile.tenant")}</Table.Th><Table.Td><Text className="kumo-mono">{session?.tenantId}</Text></Table.Td></Table.Tr>
          </Table.Tbody>
        </Table>
      </Card>
      <Title order={3} size="h4">{t("profile.changePassword")}</Title>
      <Alert icon={<IconInfoCircle />} color="gray">{t("profile.passwordUnavailable")}</Alert>
    </Stack>
  );
}
