// The documents list's filter panel (loaded when opened: its pickers are
// not part of the list page's initial JavaScript).
import { Button, Group, Paper, Select, SimpleGrid, TextInput } from "@mantine/core";
import { IconFilterOff } from "@tabler/icons-react";
import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import { can, useAuth } from "../auth";
import { useTranslation } from "../i18n";

/** Owner: admins pick among the tenant's users; others can narrow to themselves. */
function OwnerFilter({ value, onChange }: { value: string | null; onChange: (v: string | null) => void }) {
  const { t } = useTranslation();
  const { session } = useAuth();
  const admin = can(session, "admin");
  const users = useQuery({
    queryKey: ["users"],
    enabled: admin,
    queryFn: async () => unwrap(await api.GET("/api/v1/users", { params: { query: { page_size: 100 } } })).users ?? [],
  });
  const me = session?.userId ?? "";
  const data = admin
    ? (users.data ?? []).map((u) => ({ value: u.id ?? "", label: u.email ?? u.id ?? "" }))
    : [{ value: me, label: session?.user?.email ?? me }];
  if (value && !data.some((d) => d.value === value)) data.push({ value, label: value });
  return <Select label={t("docs.owner")} clearable searchable value={value} onChange={onChange} data={data} />;
}

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
            <OwnerFilter value={sp.get("owner")} onChange={(v) => set("owner", v)} />
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
