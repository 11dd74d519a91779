// A small typed i18n: two catalogues (en.ts is the reference, ja.ts must
// match it), the browser's language by default, the choice remembered in
// localStorage, {{name}} interpolation. Hand-written instead of i18next
// because i18next + react-i18next cost ~14 KiB gzip of the list page's
// 150 KiB initial-JS budget for features the console does not use.
import { useSyncExternalStore } from "react";
import en from "./en";
import ja from "./ja";

export const LANGS = ["en", "ja"] as const;
export type Lang = (typeof LANGS)[number];
const KEY = "kumo.lang";
const catalogues: Record<Lang, unknown> = { en, ja };

export function initialLang(): Lang {
  try {
    const saved = localStorage.getItem(KEY);
    if (saved === "en" || saved === "ja") return saved;
  } catch {
    /* storage off */
  }
  const langs = typeof navigator !== "undefined" ? (navigator.languages ?? [navigator.language]) : [];
  for (const l of langs) {
    const base = (l ?? "").toLowerCase().split("-")[0];
    if (base === "ja" || base === "en") return base;
  }
  return "en";
}

let current: Lang = initialLang();
const listeners = new Set<() => void>();

function lookup(lang: Lang, key: string): string | undefined {
  let v: unknown = catalogues[lang];
  for (const part of key.split(".")) {
    if (v && typeof v === "object") v = (v as Record<string, unknown>)[part];
    else return undefined;
  }
  return typeof v === "string" ? v : undefined;
}

export function translate(lang: Lang, key: string, vars?: Record<string, unknown>): string {
  const s = lookup(lang, key) ?? lookup("en", key) ?? key;
  return vars ? s.replace(/\{\{(\w+)\}\}/g, (_, k: string) => String(vars[k] ?? "")) : s;
}

export function t(key: string, vars?: Record<string, unknown>): string {
  return translate(current, key, vars);
}

export function language(): Lang {
  return current;
}

export function setLang(l: Lang) {
  try {
    localStorage.setItem(KEY, l);
  } catch {
    /* storage off: the choice lasts this page */
  }
  current = l;
  if (typeof document !== "undefined") document.documentElement.lang = l;
  for (const fn of listeners) fn();
}

function subscribe(fn: () => void) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** The translate function of the current language; re-renders on a switch. */
export function useTranslation() {
  const lang = useSyncExternalStore(subscribe, language, language);
  return {
    t: (key: string, vars?: Record<string, unknown>) => translate(lang, key, vars),
    i18n: { language: lang },
  };
}

if (typeof document !== "undefined") document.documentElement.lang = current;

export default { get language() { return current; } };
