import { MantineProvider } from "@mantine/core";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, render, screen, waitFor } from "@testing-library/react";
import { MemoryRouter } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AppRoutes } from "../../src/App";
import { AuthContext, can, type AuthState } from "../../src/auth";
import { setLang } from "../../src/i18n";

function session(roles: string[]): AuthState {
  return {
    status: "signedIn",
    session: { userId: "us_1", tenantId: "tn_1", roles, user: { id: "us_1", tenant_id: "tn_1", email: "x@demo.local", role: "admin", create_time: "2026-01-01T00:00:00Z", etag: "1" } },
    signIn: async () => undefined,
    signOut: async () => undefined,
  };
}

const base = { id: "doc_1", number: "DOC-2026-000001", title: "Policy", file_name: "policy.txt", status: "active", size: 10, current_version: 1, etag: "1" };

let doc: Record<string, unknown> = base;
let urls: URL[] = [];
beforeEach(() => {
  doc = base;
  urls = [];
  setLang("en");
  vi.stubGlobal("fetch", vi.fn(async (req: Request) => {
    const u = new URL(req.url, "http://x");
    urls.push(u);
    const body =
      u.pathname === "/api/v1/documents" ? { documents: [doc], next_page_token: "" }
      : u.pathname.endsWith("/versions") ? { versions: [{ version: 1, status: "active", size: 10 }] }
      : u.pathname.startsWith("/api/v1/documents/") ? doc
      : {};
    return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
  }));
});
afterEach(() => vi.unstubAllGlobals());

function app(roles: string[], path: string) {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <MantineProvider>
      <QueryClientProvider client={qc}>
        <MemoryRouter initialEntries={[path]}>
          <AuthContext.Provider value={session(roles)}>
            <AppRoutes />
          </AuthContext.Provider>
        </MemoryRouter>
      </QueryClientProvider>
    </MantineProvider>,
  );
}

describe("role-based controls", () => {
  it("can(): viewer reads, editor writes, admin administers", () => {
    const s = (r: string[]) => session(r).session;
    expect(can(s(["viewer"]), "read")).toBe(true);
    expect(can(s(["viewer"]), "write")).toBe(false);
    expect(can(s(["editor"]), "write")).toBe(true);
    expect(can(s(["editor"]), "admin")).toBe(false);
    expect(can(s(["admin"]), "admin")).toBe(true);
    expect(can(null, "read")).toBe(false);
  });

  it("a viewer sees the list without upload or admin navigation", async () => {
    app(["viewer"], "/documents");
    expect(await screen.findByText("Policy")).toBeTruthy();
    expect(screen.queryByTestId("upload-button")).toBeNull();
    expect(screen.queryByText("API keys")).toBeNull();
  });

  it("an editor gets the upload button but no admin navigation", async () => {
    app(["editor"], "/documents");
    expect(await screen.findByText("Policy")).toBeTruthy();
    expect(screen.getByTestId("upload-button")).toBeTruthy();
    expect(screen.queryByText("API keys")).toBeNull();
  });

  it("a viewer's document page has download but no edit or actions", async () => {
    app(["viewer"], "/documents/doc_1");
    expect(await screen.findByTestId("doc-title")).toBeTruthy();
    expect(screen.getByTestId("download")).toBeTruthy();
    expect(screen.queryByTestId("edit")).toBeNull();
    expect(screen.queryByTestId("doc-actions")).toBeNull();
  });

  it("a forced write URL shows the 403 page to a viewer", async () => {
    app(["viewer"], "/documents/doc_1/edit");
    expect(await screen.findByTestId("forbidden")).toBeTruthy();
  });

  it("admin pages show the 403 page to an editor", async () => {
    app(["editor"], "/admin/api-keys");
    expect(await screen.findByTestId("forbidden")).toBeTruthy();
  });

  it("a refused upload: the page says why; an editor may upload again, a viewer may not", async () => {
    doc = { ...base, status: "pending_upload", current_version: 0, upload_failure_reason: "uploaded content does not match the declared sha256" };
    app(["editor"], "/documents/doc_1");
    const alert = await screen.findByTestId("upload-failed");
    expect(alert.textContent).toContain("The upload was refused");
    expect(alert.textContent).toContain("does not match the declared sha256");
    expect(screen.getByTestId("upload-again")).toBeTruthy();
    cleanup();
    app(["viewer"], "/documents/doc_1");
    expect(await screen.findByTestId("upload-failed")).toBeTruthy();
    expect(screen.queryByTestId("upload-again")).toBeNull();
  });

  it("no failure reason, no alert; a thumbnail URL shows the image with alt text", async () => {
    doc = { ...base, thumbnail_url: "http://127.0.0.1:9/t.png" };
    app(["editor"], "/documents/doc_1");
    expect(await screen.findByTestId("doc-title")).toBeTruthy();
    expect(screen.queryByTestId("upload-failed")).toBeNull();
    expect(screen.getByAltText("Thumbnail of Policy").getAttribute("loading")).toBe("lazy");
  });

  it("the audit log's day range goes to the BFF as time bounds (local days, RFC 3339)", async () => {
    app(["admin"], "/admin/audit?from=2026-12-01&to=2026-12-07&action=document.update");
    await waitFor(() => expect(urls.some((u) => u.pathname === "/api/v1/audit-events" && u.searchParams.get("time_after"))).toBe(true));
    const u = urls.filter((x) => x.pathname === "/api/v1/audit-events").pop()!;
    expect(u.searchParams.get("time_after")).toBe(new Date("2026-12-01T00:00:00").toISOString());
    expect(u.searchParams.get("time_before")).toBe(new Date("2026-12-07T23:59:59.999").toISOString());
    expect(u.searchParams.get("action")).toBe("document.update");
    expect((screen.getByTestId("audit-from") as HTMLInputElement).value).toBe("2026-12-01");
  });
});
