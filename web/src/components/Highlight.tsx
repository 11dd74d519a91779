// Search snippets with their matches marked. The server sends plain text
// and highlight ranges in Unicode code points ([start, end)); they become
// <mark> elements here, built as React nodes (never HTML strings), so a
// snippet can hold "<script>" and it is shown as text.
import type { ReactNode } from "react";
import type { Schemas } from "../api/client";

export type Snippet = Schemas["SearchSnippet"];
type Range = { start?: number; end?: number };

/** `text` split at code point ranges: plain strings and <mark>s. Ranges
 * out of bounds are clipped, overlapping or touching ones merged, empty or
 * reversed ones dropped. */
export function highlight(text: string, ranges: readonly Range[] | undefined): ReactNode[] {
  const cps = Array.from(text); // code points, not UTF-16 units
  const n = cps.length;
  const rs = (ranges ?? [])
    .map((r) => [Math.max(0, Math.min(n, Math.trunc(r.start ?? 0))), Math.max(0, Math.min(n, Math.trunc(r.end ?? 0)))] as const)
    .filter(([s, e]) => e > s)
    .sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [s, e] of rs) {
    const last = merged[merged.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  const out: ReactNode[] = [];
  let at = 0;
  merged.forEach(([s, e], i) => {
    if (s > at) out.push(cps.slice(at, s).join(""));
    out.push(<mark key={i} className="kumo-mark">{cps.slice(s, e).join("")}</mark>);
    at = e;
  });
  if (at < n) out.push(cps.slice(at).join(""));
  return out;
}

/** The title marked when the server sent a title snippet of the whole
 * title; the plain title otherwise. */
export function titleWithMarks(title: string, snippets: readonly Snippet[] | undefined): ReactNode {
  const s = snippets?.find((x) => x.field === "title" && x.text === title);
  return s ? highlight(title, s.highlights) : title;
}

/** The description and content snippets, one line each, marked. */
export function SnippetLines({ snippets, labels }: { snippets: readonly Snippet[] | undefined; labels: Record<string, string> }) {
  const shown = (snippets ?? []).filter((s) => s.field !== "title" && s.text);
  if (!shown.length) return null;
  return (
    <>
      {shown.slice(0, 2).map((s, i) => (
        <div key={i} className="kumo-snippet" data-testid="snippet" data-field={s.field}>
          <span className="kumo-snippet-field">{labels[s.field ?? ""] ?? s.field}</span>
          {highlight(s.text ?? "", s.highlights)}
        </div>
      ))}
    </>
  );
}
