import { lazy, Suspense } from "react";
import { ActionIcon, AppShell, Burger, Group, NavLink, Text, Title, Button, Divider } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import {
  IconFiles, IconTrash, IconUsers, IconKey, IconListDetails, IconAlertTriangle, IconCloudUpload,
} from "@tabler/icons-react";
import { Link, Outlet, useLocation } from "react-router-dom";
import { useTranslation } from "../i18n";
import { can, useAuth } from "../auth";
import { UploadCenter, useUploads } from "../upload/UploadCenter";

function Logo() {
  return (
    <Group gap={8} wrap="nowrap">
      <svg width="28" height="28" viewBox="0 0 64 64" aria-hidden>
        <rect width="64" height="64" rx="14" fill="var(--mantine-color-indigo-6)" />
        <path d="M18 42a10 10 0 0 1 1.5-19.9A14 14 0 0 1 46 24a9 9 0 0 1 0 18z" fill="#fff" />
      </svg>
      <Title order={1} size="h3" style={{ letterSpacing: "-0.02em" }}>kumo</Title>
    </Group>
  );
}

// The header's menus (language, theme, account) pull in the popover
// machinery: loaded just after the first paint, outside the initial JS.
const HeaderMenus = lazy(() => import("./HeaderMenus"));

function MenusPlaceholder() {
  return (
    <Group gap="xs" wrap="nowrap" aria-hidden>
      <ActionIcon variant="default" size="lg" disabled />
      <ActionIcon variant="default" size="lg" disabled />
      <ActionIcon variant="subtle" size="lg" radius="xl" disabled />
    </Group>
  );
}

function UploadButton() {
  const { pick } = useUploads();
  const { t } = useTranslation();
  return (
    <>
      <Button leftSection={<IconCloudUpload size={18} />} onClick={() => pick()} data-testid="upload-button" visibleFrom="sm">
        {t("nav.upload")}
      </Button>
      <ActionIcon size="lg" onClick={() => pick()} aria-label={t("nav.upload")} hiddenFrom="sm">
        <IconCloudUpload size={18} />
      </ActionIcon>
    </>
  );
}

export function Layout() {
  const [opened, { toggle, close }] = useDisclosure();
  const { t } = useTranslation();
  const { session } = useAuth();
  const loc = useLocation();
  const writer = can(session, "write");
  const admin = can(session, "admin");
  const link = (to: string, label: string, icon: React.ReactNode) => (
    <NavLink
      key={to}
      component={Link}
      to={to}
      label={label}
      leftSection={icon}
      active={loc.pathname === to || loc.pathname.startsWith(to + "/")}
      onClick={close}
    />
  );
  return (
    <UploadCenter enabled={writer}>
      <a href="#main" className="kumo-skip">{t("nav.skip")}</a>
      <AppShell header={{ height: 60 }} navbar={{ width: 240, breakpoint: "sm", collapsed: { mobile: !opened } }} padding="md">
        <AppShell.Header>
          <Group h="100%" px="md" justify="space-between" wrap="nowrap">
            <Group wrap="nowrap">
              <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label={t("nav.menu")} />
              <Link to="/documents" style={{ color: "inherit", textDecoration: "none" }} aria-label="kumo">
                <Logo />
              </Link>
            </Group>
            <Group gap="xs" wrap="nowrap">
              {writer && <UploadButton />}
              <Suspense fallback={<MenusPlaceholder />}>
                <HeaderMenus />
              </Suspense>
            </Group>
          </Group>
        </AppShell.Header>
        <AppShell.Navbar p="sm" aria-label={t("nav.menu")}>
          {link("/documents", t("nav.documents"), <IconFiles size={18} />)}
          {link("/trash", t("nav.trash"), <IconTrash size={18} />)}
          {admin && (
            <>
              <Divider my="sm" />
              <Text size="xs" c="dimmed" fw={600} tt="uppercase" px="sm" mb={4}>{t("nav.admin")}</Text>
              {link("/admin/users", t("nav.users"), <IconUsers size={18} />)}
              {link("/admin/api-keys", t("nav.apiKeys"), <IconKey size={18} />)}
              {link("/admin/audit", t("nav.audit"), <IconListDetails size={18} />)}
              {link("/admin/dead-letters", t("nav.deadLetters"), <IconAlertTriangle size={18} />)}
            </>
          )}
        </AppShell.Navbar>
        <AppShell.Main id="main">
          <Outlet />
        </AppShell.Main>
      </AppShell>
    </UploadCenter>
  );
}
