import { Button, Center, Stack, Text, Title } from "@mantine/core";
import { IconLock, IconMapOff } from "@tabler/icons-react";
import { Link } from "react-router-dom";
import { useTranslation } from "../i18n";

export function Forbidden() {
  const { t } = useTranslation();
  return (
    <Center mih="60vh" data-testid="forbidden">
      <Stack align="center" gap="sm" maw={460} ta="center">
        <IconLock size={48} stroke={1.5} aria-hidden />
        <Title order={2}>{t("forbidden.title")}</Title>
        <Text c="dimmed">{t("forbidden.body")}</Text>
        <Button component={Link} to="/documents" variant="light">{t("forbidden.home")}</Button>
      </Stack>
    </Center>
  );
}

export function NotFound() {
  const { t } = useTranslation();
  return (
    <Center mih="60vh">
      <Stack align="center" gap="sm" maw={460} ta="center">
        <IconMapOff size={48} stroke={1.5} aria-hidden />
        <Title order={2}>{t("notFound.title")}</Title>
        <Text c="dimmed">{t("notFound.body")}</Text>
        <Button component={Link} to="/documents" variant="light">{t("forbidden.home")}</Button>
      </Stack>
    </Center>
  );
}
