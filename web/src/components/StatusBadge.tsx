import { Badge } from "@mantine/core";
import { useTranslation } from "../i18n";
import type { Document } from "../api/client";

const COLORS: Record<string, string> = {
  active: "teal", pending_upload: "yellow", archived: "violet", deleted: "gray", in_progress: "orange", restored: "cyan",
};

export function StatusBadge({ doc }: { doc: Pick<Document, "status" | "restore"> }) {
  const { t } = useTranslation();
  const s = doc.status ?? "active";
  const r = doc.restore?.state;
  const key = s === "archived" && (r === "in_progress" || r === "restored") ? r : s;
  return (
    <Badge color={COLORS[key] ?? "gray"} variant="light" data-testid="status-badge" data-status={key}>
      {t(`status.${key}`)}
    </Badge>
  );
}
