import { useState } from "react";
import { Alert, Badge, Button, Card, Group, PasswordInput, Stack, Table, Text, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconAlertCircle } from "@tabler/icons-react";
import { useNavigate } from "react-router-dom";
import { useTranslation } from "../i18n";
import { useAuth } from "../auth";
import { api, toError } from "../api/client";
import { waitText } from "../lib/format";

const MIN = 12; // kumo-users' rule (new_password: 12-1024 bytes)
const MAX = 1024;

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
      <PasswordForm />
    </Stack>
  );
}

/** Change one's own password. kumo-users then ends every session of the
 * user, this one's refresh token included, so the console signs out at
 * once and asks for the new password rather than failing at the next
 * token renewal. */
export function PasswordForm() {
  const { t } = useTranslation();
  const { signOut } = useAuth();
  const nav = useNavigate();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const [tried, setTried] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const nextError = !next ? null : [...next].length < MIN ? t("profile.tooShort") : next === current ? t("profile.sameAsOld") : null;
  const againError = again && again !== next ? t("profile.mismatch") : null;
  const valid = !!current && !!next && !nextError && !againError && again === next && new TextEncoder().encode(next).length <= MAX;

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    setTried(true);
    if (!valid) return;
    setBusy(true);
    setError(null);
    try {
      const res = await api.POST("/api/v1/auth/password", { body: { current_password: current, new_password: next } });
      if (!res.response.ok) throw toError(res);
      notifications.show({ color: "green", message: t("profile.passwordChanged"), autoClose: 8000 });
      await signOut();
      nav("/signin", { replace: true });
    } catch (err) {
      const a = err as { status?: number; message?: string; retryAfter?: number | null };
      if (a.status === 403) setError(t("profile.wrongCurrent"));
      else if (a.status === 429) setError(t("profile.tooMany", { wait: waitText(a.retryAfter ?? 60) }));
      else setError(t("common.error", { message: a.message ?? String(err) }));
      setCurrent("");
    } finally {
      setBusy(false);
    }
  }

  return (
    <Card withBorder radius="md" component="section" aria-labelledby="pw-title">
      <form onSubmit={submit} noValidate data-testid="password-form">
        <Stack gap="sm">
          <Title order={3} size="h4" id="pw-title">{t("profile.changePassword")}</Title>
          <Text size="sm" c="dimmed">{t("profile.passwordHint")}</Text>
          {error && <Alert color="red" icon={<IconAlertCircle size={18} />} role="alert" data-testid="password-error">{error}</Alert>}
          <PasswordInput label={t("profile.currentPassword")} name="current-password" autoComplete="current-password" required value={current}
            onChange={(e) => setCurrent(e.currentTarget.value)} error={tried && !current ? t("profile.required") : undefined} />
          <PasswordInput label={t("profile.newPassword")} name="new-password" autoComplete="new-password" required value={next}
            onChange={(e) => setNext(e.currentTarget.value)} error={(tried || next.length >= MIN) && nextError ? nextError : tried && !next ? t("profile.tooShort") : undefined} />
          <PasswordInput label={t("profile.confirmPassword")} name="new-password-again" autoComplete="new-password" required value={again}
            onChange={(e) => setAgain(e.currentTarget.value)} error={(tried || again.length >= next.length) && againError ? againError : undefined} />
          <Group justify="flex-end">
            <Button type="submit" loading={busy} data-testid="password-submit">{t("profile.changePassword")}</Button>
          </Group>
        </Stack>
      </form>
    </Card>
  );
}
