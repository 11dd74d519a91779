import { MantineProvider } from "@mantine/core";
import { Notifications } from "@mantine/notifications";
import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AuthContext, type AuthState } from "../../src/auth";
import { setLang } from "../../src/i18n";
import { PasswordForm } from "../../src/pages/Profile";

let answer: () => Response;
let sent: { url: string; body: unknown }[];
let signedOut: number;

beforeEach(() => {
  setLang("en");
  sent = [];
  signedOut = 0;
  vi.stubGlobal("fetch", vi.fn(async (req: Request) => {
    sent.push({ url: req.url, body: await req.clone().json().catch(() => null) });
    return answer();
  }));
});
afterEach(() => vi.unstubAllGlobals());

function form() {
  const auth: AuthState = {
    status: "signedIn", session: { userId: "us_1", tenantId: "tn_1", roles: ["editor"] },
    signIn: async () => undefined, signOut: async () => { signedOut++; },
  };
  render(
    <MantineProvider>
      <Notifications />
      <MemoryRouter initialEntries={["/profile"]}>
        <AuthContext.Provider value={auth}>
          <Routes>
            <Route path="/profile" element={<PasswordForm />} />
            <Route path="/signin" element={<p>sign-in page</p>} />
          </Routes>
        </AuthContext.Provider>
      </MemoryRouter>
    </MantineProvider>,
  );
}

const NAMES: Record<string, string> = { "Current password": "current-password", "New password": "new-password", "New password again": "new-password-again" };
const fill = (label: string, v: string) => {
  const el = document.querySelector(`input[name="${NAMES[label]}"]`)!;
  expect(screen.getAllByLabelText(new RegExp(`^${label}`), { selector: "input" })).toContain(el);
  fireEvent.change(el, { target: { value: v } });
};
const err = (status: number, code: string, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify({ error: { code, message: code } }), { status, headers: { "Content-Type": "application/json", ...headers } });

describe("change password", () => {
  it("validates before sending: too short, mismatch, same as current", async () => {
    form();
    fill("Current password", "old-password-1");
    fill("New password", "short");
    fill("New password again", "short");
    fireEvent.click(screen.getByTestId("password-submit"));
    expect(await screen.findByText("Use at least 12 characters.")).toBeTruthy();
    fill("New password", "a-long-new-password");
    fill("New password again", "a-long-new-passwordX");
    expect(await screen.findByText("The two new passwords differ.")).toBeTruthy();
    fill("New password", "old-password-1");
    expect(await screen.findByText("The new password is the current one.")).toBeTruthy();
    expect(sent).toEqual([]);
  });
  it("403: wrong current password; 429: the wait in words", async () => {
    answer = () => err(403, "permission_denied");
    form();
    fill("Current password", "not-it-at-all");
    fill("New password", "a-long-new-password");
    fill("New password again", "a-long-new-password");
    fireEvent.click(screen.getByTestId("password-submit"));
    expect((await screen.findByTestId("password-error")).textContent).toBe("The current password is not right.");
    expect(sent[0]!.url).toContain("/api/v1/auth/password");
    expect(sent[0]!.body).toEqual({ current_password: "not-it-at-all", new_password: "a-long-new-password" });
    answer = () => err(429, "resource_exhausted", { "Retry-After": "540" });
    fill("Current password", "again-wrong");
    fireEvent.click(screen.getByTestId("password-submit"));
    await waitFor(() => expect(screen.getByTestId("password-error").textContent).toContain("about 9 minutes"));
    expect(signedOut).toBe(0);
  });
  it("204: signs out this session and goes to sign-in with a notice", async () => {
    answer = () => new Response(null, { status: 204 });
    form();
    fill("Current password", "old-password-1");
    fill("New password", "a-long-new-password");
    fill("New password again", "a-long-new-password");
    fireEvent.click(screen.getByTestId("password-submit"));
    expect(await screen.findByText("sign-in page")).toBeTruthy();
    expect(await screen.findByText(/Password changed/)).toBeTruthy();
    expect(signedOut).toBe(1);
  });
});
