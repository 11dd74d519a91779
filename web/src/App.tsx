import { lazy, Suspense, useMemo, type ReactNode } from "react";
import { createTheme, Loader, MantineProvider, Center } from "@mantine/core";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { BrowserRouter, Navigate, Route, Routes, useLocation } from "react-router-dom";
import { AuthProvider, can, useAuth } from "./auth";
import { Layout } from "./components/Layout";
import { Forbidden, NotFound } from "./pages/Errors";
import { DocumentsPage } from "./pages/Documents";
import { ApiError } from "./api/client";
import { useTranslation } from "./i18n";

const SignIn = lazy(() => import("./pages/SignIn"));
const Notifications = lazy(() => import("@mantine/notifications").then((m) => ({ default: m.Notifications })));
const DocumentPage = lazy(() => import("./pages/DocumentPage"));
const TrashPage = lazy(() => import("./pages/Trash"));
const UsersPage = lazy(() => import("./pages/admin/Users"));
const ApiKeysPage = lazy(() => import("./pages/admin/ApiKeys"));
const AuditPage = lazy(() => import("./pages/admin/Audit"));
const DeadLettersPage = lazy(() => import("./pages/admin/DeadLetters"));
const ProfilePage = lazy(() => import("./pages/Profile"));

const makeTheme = (closeLabel: string) => createTheme({
  primaryColor: "indigo",
  // Shade 7 in light mode: white on indigo-6 misses WCAG AA contrast.
  primaryShade: { light: 7, dark: 8 },
  defaultRadius: "md",
  fontFamily:
    'system-ui, -apple-system, "Segoe UI", Roboto, "Hiragino Sans", "Noto Sans JP", "Noto Sans CJK JP", "Yu Gothic UI", sans-serif',
  headings: { fontWeight: "650" },
  // Close buttons need a name (axe: button-name); set by key, not by
  // Modal.extend, so the theme does not pull Modal into the initial JS.
  components: {
    Modal: { defaultProps: { closeButtonProps: { "aria-label": closeLabel } } },
    Notification: { defaultProps: { closeButtonProps: { "aria-label": closeLabel } } },
  },
});

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 10_000,
      retry: (n, e) => !(e instanceof ApiError && e.status < 500) && n < 2,
      refetchOnWindowFocus: false,
    },
  },
});

function Spinner() {
  return (
    <Center h="60vh">
      <Loader aria-label="loading" />
    </Center>
  );
}

function RequireAuth({ children }: { children: ReactNode }) {
  const { status } = useAuth();
  const loc = useLocation();
  if (status === "loading") return <Spinner />;
  if (status === "signedOut") {
    const next = loc.pathname + loc.search;
    return <Navigate to={`/signin${next !== "/" ? `?next=${encodeURIComponent(next)}` : ""}`} replace />;
  }
  return <>{children}</>;
}

function RequireRole({ what, children }: { what: "write" | "admin"; children: ReactNode }) {
  const { session } = useAuth();
  return can(session, what) ? <>{children}</> : <Forbidden />;
}

export function AppRoutes() {
  return (
    <Routes>
      <Route path="/signin" element={<Suspense fallback={<Spinner />}><SignIn /></Suspense>} />
      <Route
        element={
          <RequireAuth>
            <Layout />
          </RequireAuth>
        }
      >
        <Route index element={<Navigate to="/documents" replace />} />
        <Route path="/documents" element={<DocumentsPage />} />
        <Route path="/documents/:id" element={<Suspense fallback={<Spinner />}><DocumentPage /></Suspense>} />
        <Route
          path="/documents/:id/edit"
          element={<RequireRole what="write"><Suspense fallback={<Spinner />}><DocumentPage edit /></Suspense></RequireRole>}
        />
        <Route path="/trash" element={<Suspense fallback={<Spinner />}><TrashPage /></Suspense>} />
        <Route path="/profile" element={<Suspense fallback={<Spinner />}><ProfilePage /></Suspense>} />
        <Route path="/admin/users" element={<RequireRole what="admin"><Suspense fallback={<Spinner />}><UsersPage /></Suspense></RequireRole>} />
        <Route path="/admin/api-keys" element={<RequireRole what="admin"><Suspense fallback={<Spinner />}><ApiKeysPage /></Suspense></RequireRole>} />
        <Route path="/admin/audit" element={<RequireRole what="admin"><Suspense fallback={<Spinner />}><AuditPage /></Suspense></RequireRole>} />
        <Route path="/admin/dead-letters" element={<RequireRole what="admin"><Suspense fallback={<Spinner />}><DeadLettersPage /></Suspense></RequireRole>} />
        <Route path="/forbidden" element={<Forbidden />} />
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  );
}

export function App() {
  const { t, i18n } = useTranslation();
  const theme = useMemo(() => makeTheme(t("common.close")), [i18n.language]); // eslint-disable-line react-hooks/exhaustive-deps
  return (
    <MantineProvider theme={theme} defaultColorScheme="auto">
      <Suspense fallback={null}>
        <Notifications position="top-right" />
      </Suspense>
      <QueryClientProvider client={queryClient}>
        <BrowserRouter>
          <AuthProvider>
            <AppRoutes />
          </AuthProvider>
        </BrowserRouter>
      </QueryClientProvider>
    </MantineProvider>
  );
}
