import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { api, ApiError, refreshSession, setAccess, setSignedOutHandler, toError, type User } from "./api/client";

export type Role = "admin" | "editor" | "viewer";

export interface Session {
  userId: string;
  tenantId: string;
  roles: string[];
  user?: User;
}

export interface AuthState {
  status: "loading" | "signedOut" | "signedIn";
  session: Session | null;
  signIn(tenant: string, email: string, password: string): Promise<void>;
  signOut(): Promise<void>;
}

export const AuthContext = createContext<AuthState | null>(null);

export function can(session: Session | null, what: "read" | "write" | "admin"): boolean {
  const r = session?.roles ?? [];
  if (what === "admin") return r.includes("admin");
  if (what === "write") return r.includes("admin") || r.includes("editor");
  return r.length > 0;
}

async function loadMe(): Promise<Session> {
  const res = await api.GET("/api/v1/me");
  if (!res.data) throw toError(res);
  return {
    userId: res.data.user_id ?? "",
    tenantId: res.data.tenant_id ?? "",
    roles: res.data.roles ?? [],
    ...(res.data.user ? { user: res.data.user } : {}),
  };
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const qc = useQueryClient();
  const [status, setStatus] = useState<AuthState["status"]>("loading");
  const [session, setSession] = useState<Session | null>(null);

  const dropLocal = useCallback(() => {
    setAccess(null);
    setSession(null);
    setStatus("signedOut");
    qc.clear();
  }, [qc]);

  useEffect(() => {
    setSignedOutHandler(dropLocal);
    let live = true;
    // Silent sign-in across reloads: the HttpOnly refresh cookie, if any.
    (async () => {
      const ok = await refreshSession();
      if (!live) return;
      if (!ok) return setStatus("signedOut");
      try {
        const s = await loadMe();
        if (!live) return;
        setSession(s);
        setStatus("signedIn");
      } catch {
        if (live) setStatus("signedOut");
      }
    })();
    return () => {
      live = false;
    };
  }, [dropLocal]);

  const signIn = useCallback(async (tenant: string, email: string, password: string) => {
    const res = await api.POST("/api/v1/auth/login", {
      body: { tenant, email, password, mode: "cookie" },
    });
    if (!res.data) throw toError(res);
    setAccess(res.data.access_token ?? null, res.data.expires_in);
    const s = await loadMe();
    setSession(s);
    setStatus("signedIn");
  }, []);

  const signOut = useCallback(async () => {
    try {
      await api.POST("/api/v1/auth/logout", {});
    } catch {
      /* the local session ends anyway */
    }
    dropLocal();
  }, [dropLocal]);

  const value = useMemo(() => ({ status, session, signIn, signOut }), [status, session, signIn, signOut]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const v = useContext(AuthContext);
  if (!v) throw new Error("useAuth outside AuthProvider");
  return v;
}

export { ApiError };
