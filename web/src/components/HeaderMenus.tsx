import { ActionIcon, Avatar, Group, Menu, Tooltip, useMantineColorScheme } from "@mantine/core";
import { IconDeviceDesktop, IconLanguage, IconLogout, IconMoon, IconSun, IconUser } from "@tabler/icons-react";
import { Link, useNavigate } from "react-router-dom";
import { useAuth } from "../auth";
import { setLang, useTranslation } from "../i18n";

export default function HeaderMenus() {
  const { t, i18n } = useTranslation();
  const { session, signOut } = useAuth();
  const { setColorScheme, colorScheme } = useMantineColorScheme();
  const nav = useNavigate();
  const email = session?.user?.email ?? "";
  return (
    <Group gap="xs" wrap="nowrap">
              <Menu position="bottom-end" withinPortal>
                <Menu.Target>
                  <Tooltip label={t("nav.language")}>
                    <ActionIcon variant="default" size="lg" aria-label={t("nav.language")} data-testid="lang-menu">
                      <IconLanguage size={18} />
                    </ActionIcon>
                  </Tooltip>
                </Menu.Target>
                <Menu.Dropdown>
                  <Menu.Item onClick={() => setLang("en")} fw={i18n.language === "en" ? 700 : undefined}>English</Menu.Item>
                  <Menu.Item onClick={() => setLang("ja")} fw={i18n.language === "ja" ? 700 : undefined} lang="ja">日本語</Menu.Item>
                </Menu.Dropdown>
              </Menu>
              <Menu position="bottom-end" withinPortal>
                <Menu.Target>
                  <Tooltip label={t("nav.theme")}>
                    <ActionIcon variant="default" size="lg" aria-label={t("nav.theme")} data-testid="theme-menu">
                      {colorScheme === "dark" ? <IconMoon size={18} /> : colorScheme === "light" ? <IconSun size={18} /> : <IconDeviceDesktop size={18} />}
                    </ActionIcon>
                  </Tooltip>
                </Menu.Target>
                <Menu.Dropdown>
                  <Menu.Item leftSection={<IconSun size={16} />} onClick={() => setColorScheme("light")}>{t("nav.light")}</Menu.Item>
                  <Menu.Item leftSection={<IconMoon size={16} />} onClick={() => setColorScheme("dark")}>{t("nav.dark")}</Menu.Item>
                  <Menu.Item leftSection={<IconDeviceDesktop size={16} />} onClick={() => setColorScheme("auto")}>{t("nav.system")}</Menu.Item>
                </Menu.Dropdown>
              </Menu>
              <Menu position="bottom-end" withinPortal>
                <Menu.Target>
                  <ActionIcon variant="subtle" size="lg" radius="xl" aria-label={email || t("nav.profile")} data-testid="user-menu">
                    <Avatar size={32} radius="xl" color="indigo">{email.slice(0, 1).toUpperCase() || "?"}</Avatar>
                  </ActionIcon>
                </Menu.Target>
                <Menu.Dropdown>
                  <Menu.Label>{email}</Menu.Label>
                  <Menu.Item leftSection={<IconUser size={16} />} component={Link} to="/profile">{t("nav.profile")}</Menu.Item>
                  <Menu.Item
                    leftSection={<IconLogout size={16} />}
                    data-testid="sign-out"
                    onClick={async () => {
                      await signOut();
                      nav("/signin", { replace: true });
                    }}
                  >
                    {t("nav.signOut")}
                  </Menu.Item>
                </Menu.Dropdown>
              </Menu>
    </Group>
  );
}
