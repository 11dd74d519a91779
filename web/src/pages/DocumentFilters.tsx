// The documents list's filter panel (loaded when opened: its pickers are
// not part of the list page's initial JavaScript).
import { Button, Group, Paper, Select, SimpleGrid, TextInput } from "@mantine/core";
import { IconFilterOff } from "@tabler/icons-react";
import { useTranslation } from "../i18n";

export default function DocumentFilters({ sp, set, clear }: { sp: URLSearchParams; set: (k: string, v: string | null) => void; clear: () => void }) {
  const { t } = useTranslation();
  return (
        <Paper withBorder p="md" radius="md">
          <SimpleGrid cols={{ base: 1, xs: 2, md: 4 }} spacing="sm">
            <Select
              label={t("docs.status")}
              placeholder={t("docs.anyStatus")}
              clearable
              value={sp.get("status")}
              onChange={(v) => set("status", v)}
              data={(["active", "archived", "pending_upload"] as const).map((s) => ({ value: s, label: t(`status.${s}`) }))}
            />
            <TextInput label={t("docs.tag")} value={sp.get("tag") ?? ""} onChange={(e) => set("tag", e.currentTarget.value)} />
            <Select
              label={t("docs.contentType")}
              clearable
              searchable
              value={sp.get("type")}
              onChange={(v) => set("type", v)}
              data={["application/pdf", "text/plain", "text/markdown", "text/csv", "image/png", "image/jpeg", "application/json", "application/zip", "application/octet-stream"]}
            />
            <TextInput label={t("docs.owner")} value={sp.get("owner") ?? ""} onChange={(e) => set("owner", e.currentTarget.value)} />
            <TextInput type="date" label={t("docs.createdFrom")} value={sp.get("cfrom") ?? ""} onChange={(e) => set("cfrom", e.currentTarget.value)} />
            <TextInput type="date" label={t("docs.createdTo")} value={sp.get("cto") ?? ""} onChange={(e) => set("cto", e.currentTarget.value)} />
            <TextInput type="date" label={t("docs.updatedFrom")} value={sp.get("ufrom") ?? ""} onChange={(e) => set("ufrom", e.currentTarget.value)} />
            <TextInput type="date" label={t("docs.updatedTo")} value={sp.get("uto") ?? ""} onChange={(e) => set("uto", e.currentTarget.value)} />
          </SimpleGrid>
          {["status", "tag", "type", "owner", "cfrom", "cto", "ufrom", "uto"].some((k) => sp.get(k)) && (
            <Group justify="flex-end" mt="sm">
              <Button
                variant="subtle"
                leftSection={<IconFilterOff size={16} />}
                onClick={clear}
              >
                {t("docs.clearFilters")}
              </Button>
            </Group>
          )}
        </Paper>
  );
}
