import { useEffect, useState } from "react";
import { Alert, Anchor, Box, Button, Center, Group, Paper, PasswordInput, Stack, Text, TextInput, Title, useMantineColorScheme, ActionIcon } from "@mantine/core";
import { IconAlertCircle, IconClock, IconMoon, IconSun } from "@tabler/icons-react";
import { Navigate, useNavigate, useSearchParams } from "react-router-dom";
import { useTranslation } from "../i18n";
import { ApiError, useAuth } from "../auth";
import { setLang } from "../i18n";
import { waitText } from "../lib/format";

export default function SignIn() {
  const { t, i18n } = useTranslation();
  const { status, signIn } = useAuth();
  const [params] = useSearchParams();
  const nav = useNavigate();
  const { colorScheme, setColorScheme } = useMantineColorScheme();
  const [tenant, setTenant] = useState(() => localStorage.getItem("kumo.tenant") ?? "");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [waitUntil, setWaitUntil] = useState<number | null>(null);
  const [now, setNow] = useState(Date.now());

  useEffect(() => {
    if (!waitUntil) return;
    const iv = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(iv);
  }, [waitUntil]);

  const next = params.get("next");
  const safeNext = next && next.startsWith("/") && !next.startsWith("//") ? next : "/documents";
  if (status === "signedIn") return <Navigate to={safeNext} replace />;

  const left = waitUntil ? Math.max(0, Math.ceil((waitUntil - now) / 1000)) : 0;

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(tenant.trim(), email.trim(), password);
      localStorage.setItem("kumo.tenant", tenant.trim());
      setWaitUntil(null);
      nav(safeNext, { replace: true });
    } catch (err) {
      setPassword("");
      if (err instanceof ApiError && err.status === 429) {
        setWaitUntil(Date.now() + (err.retryAfter ?? 60) * 1000);
        setNow(Date.now());
      } else if (err instanceof ApiError && (err.status === 401 || err.status === 400 || err.status === 404)) {
        setError(t("signIn.wrong"));
      } else {
        setError(t("signIn.failed", { message: err instanceof Error ? err.message : String(err) }));
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <Box
      mih="100vh"
      style={{
        background:
          "radial-gradient(1200px 600px at 10% -10%, var(--mantine-color-indigo-light), transparent), radial-gradient(900px 500px at 110% 110%, var(--mantine-color-cyan-light), transparent)",
      }}
    >
      <Group justify="flex-end" p="md" gap="xs">
        <Anchor component="button" type="button" size="sm" onClick={() => setLang(i18n.language === "ja" ? "en" : "ja")} lang={i18n.language === "ja" ? "en" : "ja"}>
          {i18n.language === "ja" ? "English" : "日本語"}
        </Anchor>
        <ActionIcon variant="default" aria-label={t("nav.theme")} onClick={() => setColorScheme(colorScheme === "dark" ? "light" : "dark")}>
          {colorScheme === "dark" ? <IconSun size={16} /> : <IconMoon size={16} />}
        </ActionIcon>
      </Group>
      <Center mih="calc(100vh - 140px)" px="md">
        <Paper component="main" withBorder shadow="md" p="xl" radius="lg" w="100%" maw={420}>
          <Stack gap={4} mb="lg" align="center">
            <svg width="44" height="44" viewBox="0 0 64 64" aria-hidden>
              <rect width="64" height="64" rx="14" fill="var(--mantine-color-indigo-6)" />
              <path d="M18 42a10 10 0 0 1 1.5-19.9A14 14 0 0 1 46 24a9 9 0 0 1 0 18z" fill="#fff" />
            </svg>
            <Title order={1} size="h2">{t("signIn.title")}</Title>
            <Text c="dimmed" size="sm">{t("app.tagline")}</Text>
          </Stack>
          <form onSubmit={submit} noValidate>
            <Stack>
              {error && (
                <Alert color="red" icon={<IconAlertCircle size={18} />} role="alert" data-testid="signin-error">{error}</Alert>
              )}
              {waitUntil && (
                <Alert color="orange" icon={<IconClock size={18} />} role="alert" data-testid="signin-wait">
                  {left > 0 ? t("signIn.tooMany", { wait: waitText(left) }) : t("signIn.tooManyNow")}
                </Alert>
              )}
              <TextInput label={t("signIn.tenant")} description={t("signIn.tenantHint")} name="tenant" autoComplete="organization" required value={tenant} onChange={(e) => setTenant(e.currentTarget.value)} />
              <TextInput label={t("signIn.email")} name="email" type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.currentTarget.value)} />
              <PasswordInput label={t("signIn.password")} name="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.currentTarget.value)} />
              <Button type="submit" loading={busy} disabled={left > 0 || !tenant || !email || !password} fullWidth size="md">
                {t("signIn.submit")}
              </Button>
            </Stack>
          </form>
        </Paper>
      </Center>
    </Box>
  );
}
