import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import en from "../../src/i18n/en";
import ja from "../../src/i18n/ja";

function keys(o: unknown, prefix = ""): string[] {
  return Object.entries(o as Record<string, unknown>).flatMap(([k, v]) =>
    typeof v === "string" ? [prefix + k] : keys(v, `${prefix}${k}.`),
  );
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : /\.tsx?$/.test(n) ? [p] : [];
  });
}

describe("i18n catalogues", () => {
  const enKeys = keys(en).sort();
  const jaKeys = keys(ja).sort();
  it("Japanese has every English key", () => {
    expect(enKeys.filter((k) => !jaKeys.includes(k))).toEqual([]);
  });
  it("Japanese has no key English lacks", () => {
    expect(jaKeys.filter((k) => !enKeys.includes(k))).toEqual([]);
  });
  it("no empty translation", () => {
    const flat = (o: unknown): string[] => Object.values(o as object).flatMap((v) => (typeof v === "string" ? [v] : flat(v)));
    expect(flat(ja).filter((s) => !s.trim())).toEqual([]);
  });
  it("every t(\"...\") key used in the source exists", () => {
    const used = new Set<string>();
    for (const f of sources(join(__dirname, "../../src"))) {
      for (const m of readFileSync(f, "utf8").matchAll(/\bt\(\s*"([a-zA-Z]+\.[a-zA-Z0-9.]+)"/g)) used.add(m[1]!);
    }
    expect(used.size).toBeGreaterThan(50);
    expect([...used].filter((k) => !enKeys.includes(k))).toEqual([]);
  });
  it("placeholders match between languages", () => {
    const get = (o: unknown, k: string) => k.split(".").reduce<unknown>((a, p) => (a as Record<string, unknown>)[p], o) as string;
    const ph = (s: string) => [...s.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]).sort().join(",");
    expect(enKeys.filter((k) => ph(get(en, k)) !== ph(get(ja, k)))).toEqual([]);
  });
});
