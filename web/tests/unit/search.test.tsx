import { MantineProvider } from "@mantine/core";
import { render } from "@testing-library/react";
import { beforeEach, describe, expect, it } from "vitest";
import { highlight, SnippetLines, titleWithMarks } from "../../src/components/Highlight";
import { Thumb } from "../../src/components/Thumb";
import { setLang } from "../../src/i18n";
import { shortType, waitText } from "../../src/lib/format";

function html(node: React.ReactNode) {
  const { container } = render(<MantineProvider><div data-testid="x">{node}</div></MantineProvider>);
  return container.querySelector("[data-testid=x]")!;
}

beforeEach(() => setLang("en"));

describe("search snippets", () => {
  it("marks code point ranges, not UTF-16 units (CJK, emoji before the match)", () => {
    // 😀 is two UTF-16 units but one code point: [3,5) is 規則.
    const el = html(highlight("😀本 規則は", [{ start: 3, end: 5 }]));
    const marks = [...el.querySelectorAll("mark")].map((m) => m.textContent);
    expect(marks).toEqual(["規則"]);
    expect(el.textContent).toBe("😀本 規則は");
  });
  it("merges overlaps, clips out-of-range, drops empty and reversed ranges", () => {
    const el = html(highlight("working conditions", [{ start: 0, end: 4 }, { start: 2, end: 7 }, { start: 8, end: 99 }, { start: 5, end: 5 }, { start: 6, end: 3 }]));
    expect([...el.querySelectorAll("mark")].map((m) => m.textContent)).toEqual(["working", "conditions"]);
    expect(el.textContent).toBe("working conditions");
  });
  it("never interprets the text as HTML", () => {
    const text = "<img src=x onerror=alert(1)> <b>bold</b>";
    const at = text.indexOf("<b>");
    const el = html(highlight(text, [{ start: at, end: at + 3 }]));
    expect(el.querySelector("img")).toBeNull();
    expect(el.querySelector("b")).toBeNull();
    expect(el.querySelector("mark")?.textContent).toBe("<b>");
    expect(el.textContent).toContain("<img src=x onerror=alert(1)>");
  });
  it("marks the title when a title snippet is the whole title; content lines labelled", () => {
    const snippets = [
      { field: "title" as const, text: "就業規則 第二版", highlights: [{ start: 2, end: 4 }] },
      { field: "content" as const, text: "本規則は従業員の労働条件", highlights: [{ start: 4, end: 7 }] },
    ];
    const t = html(titleWithMarks("就業規則 第二版", snippets));
    expect(t.querySelector("mark")?.textContent).toBe("規則");
    expect(html(titleWithMarks("other", snippets)).querySelector("mark")).toBeNull();
    const lines = html(<SnippetLines snippets={snippets} labels={{ content: "Content" }} />);
    const rows = lines.querySelectorAll("[data-testid=snippet]");
    expect(rows.length).toBe(1);
    expect(rows[0]!.getAttribute("data-field")).toBe("content");
    expect(rows[0]!.querySelector("mark")?.textContent).toBe("従業員");
  });
});

describe("thumbnails", () => {
  it("lazy image with alt and a fixed size; the icon when there is no URL", () => {
    const el = html(<Thumb url="http://127.0.0.1:9/t.png?X-Amz=1" alt="Thumbnail of Policy" size={36} />);
    const img = el.querySelector("img")!;
    expect(img.getAttribute("loading")).toBe("lazy");
    expect(img.getAttribute("alt")).toBe("Thumbnail of Policy");
    expect(img.getAttribute("width")).toBe("36");
    expect(img.getAttribute("height")).toBe("36");
    const none = html(<Thumb url={undefined} alt="x" size={36} />);
    expect(none.querySelector("img")).toBeNull();
    expect(none.querySelector("svg")).not.toBeNull();
    expect((none.firstElementChild as HTMLElement).style.width).toBe("36px");
  });
});

describe("human wording", () => {
  it("waits in seconds, minutes, hours, in both languages", () => {
    expect(waitText(1)).toBe("1 second");
    expect(waitText(45)).toBe("45 seconds");
    expect(waitText(75)).toBe("about a minute");
    expect(waitText(541)).toBe("about 9 minutes");
    expect(waitText(7200)).toBe("about 2 hours");
    setLang("ja");
    expect(waitText(541)).toBe("約 9 分");
    expect(waitText(30)).toBe("30 秒");
  });
  it("type labels translated", () => {
    expect(shortType("text/plain; charset=utf-8")).toBe("Text");
    expect(shortType("application/octet-stream")).toBe("Binary");
    setLang("ja");
    expect(shortType("text/plain")).toBe("テキスト");
    expect(shortType("application/octet-stream")).toBe("バイナリ");
    expect(shortType("application/pdf")).toBe("PDF");
  });
});
