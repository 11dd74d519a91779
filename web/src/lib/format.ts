import i18n, { t } from "../i18n";

export function bytes(n: number | undefined): string {
  if (n === undefined || n === null) return "—";
  const u = ["B", "KB", "MB", "GB", "TB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${u[i]}`;
}

export function when(ts: string | undefined): string {
  if (!ts) return "—";
  const d = new Date(ts);
  if (Number.isNaN(d.getTime()) || d.getTime() <= 0) return "—";
  return new Intl.DateTimeFormat(i18n.language, { dateStyle: "medium", timeStyle: "short" }).format(d);
}

export function shortType(ct: string | undefined): string {
  if (!ct) return "—";
  const map: Record<string, string> = {
    "application/pdf": "PDF", "text/plain": t("types.text"), "text/markdown": "Markdown", "text/csv": "CSV",
    "image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WebP",
    "application/zip": "ZIP", "text/html": "HTML", "application/xml": "XML", "text/xml": "XML", "application/json": "JSON", "application/octet-stream": t("types.binary"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "PowerPoint",
  };
  return map[ct.split(";")[0]!.trim()] ?? ct;
}

/** A date input value (YYYY-MM-DD) as RFC 3339 at the start (or end) of that local day. */
export function dayBound(v: string | null, end: boolean): string | undefined {
  if (!v) return undefined;
  const d = new Date(`${v}T${end ? "23:59:59.999" : "00:00:00"}`);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** A wait in words, as people say it: "45 seconds", "about a minute",
 * "about 9 minutes", "about 2 hours" (in the current language). */
export function waitText(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return t(s === 1 ? "time.second" : "time.seconds", { count: s });
  const m = Math.round(s / 60);
  if (m < 60) return m === 1 ? t("time.aboutMinute") : t("time.aboutMinutes", { count: m });
  const h = Math.round(m / 60);
  return h === 1 ? t("time.aboutHour") : t("time.aboutHours", { count: h });
}
