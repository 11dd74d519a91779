import { Badge } from "@mantine/core";
import { useTranslation } from "../../i18n";

export function RoleBadge({ role }: { role?: string }) {
  const { t } = useTranslation();
  const color = role === "admin" ? "red" : role === "editor" ? "blue" : role === "service" ? "grape" : "gray";
  const label = role === "admin" ? t("admin.roleAdmin") : role === "editor" ? t("admin.roleEditor") : role === "service" ? t("admin.roleService") : t("admin.roleViewer");
  return <Badge color={color} variant="light">{label}</Badge>;
}

export function useRoleOptions() {
  const { t } = useTranslation();
  return [
    { value: "admin", label: t("admin.roleAdmin") },
    { value: "editor", label: t("admin.roleEditor") },
    { value: "viewer", label: t("admin.roleViewer") },
  ];
}
