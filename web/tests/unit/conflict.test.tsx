import { MantineProvider } from "@mantine/core";
import { fireEvent, render, screen, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { ConflictDialog, type EditValues } from "../../src/components/ConflictDialog";
import { setLang } from "../../src/i18n";

const mine: EditValues = { title: "My title", description: "same", tags: ["a"], metadata: "{}" };
const theirs: EditValues = { title: "Their title", description: "same", tags: ["a", "b"], metadata: "{}" };

function show(over: Partial<Parameters<typeof ConflictDialog>[0]> = {}) {
  const props = { opened: true, mine, theirs, onReload: vi.fn(), onOverwrite: vi.fn(), onClose: vi.fn(), ...over };
  render(<MantineProvider><ConflictDialog {...props} /></MantineProvider>);
  return props;
}

describe("etag conflict dialog", () => {
  it("shows both versions side by side", () => {
    setLang("en");
    show();
    expect(screen.getByText("Someone else changed this document")).toBeTruthy();
    expect(within(screen.getByTestId("conflict-theirs")).getByText("Their title")).toBeTruthy();
    expect(within(screen.getByTestId("conflict-mine")).getByText("My title")).toBeTruthy();
    expect(within(screen.getByTestId("conflict-theirs")).getByText("a, b")).toBeTruthy();
  });
  it("reload keeps theirs, overwrite keeps mine", () => {
    const p = show();
    fireEvent.click(screen.getByTestId("conflict-reload"));
    expect(p.onReload).toHaveBeenCalledTimes(1);
    fireEvent.click(screen.getByTestId("conflict-overwrite"));
    expect(p.onOverwrite).toHaveBeenCalledTimes(1);
  });
  it("speaks Japanese", () => {
    setLang("ja");
    show();
    expect(screen.getByText("ほかの人がこの文書を変更しました")).toBeTruthy();
    expect(screen.getByText("上書き")).toBeTruthy();
    setLang("en");
  });
});
