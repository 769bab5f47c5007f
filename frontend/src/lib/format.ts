import type { Health, Num } from "./api";

export const fmtNum = (v: Num | undefined, digits = 2) =>
  v == null || !Number.isFinite(v) ? "—" : v.toFixed(digits);

export const fmtPct = (v: Num | undefined, digits = 1) =>
  v == null || !Number.isFinite(v) ? "—" : `${(v * 100).toFixed(digits)}%`;

export const fmtDate = (iso: string | null | undefined) => (iso ? iso.slice(0, 10) : "—");

export const fmtParams = (p: Record<string, unknown>) =>
  Object.entries(p)
    .map(([k, v]) => `${k}=${typeof v === "number" && !Number.isInteger(v) ? v.toFixed(3) : String(v)}`)
    .join(", ");

/** Sort rows by a key, nulls last whatever the direction. */
export function sortRows<T>(rows: T[], key: keyof T, dir: "asc" | "desc"): T[] {
  const sign = dir === "asc" ? 1 : -1;
  return [...rows].sort((a, b) => {
    const x = a[key] as unknown, y = b[key] as unknown;
    if (x == null && y == null) return 0;
    if (x == null) return 1;
    if (y == null) return -1;
    if (typeof x === "number" && typeof y === "number") return sign * (x - y);
    return sign * String(x).localeCompare(String(y));
  });
}

export const fmtCount = (v: Num | undefined) =>
  v == null || !Number.isFinite(v) ? "—" : Math.round(v).toLocaleString("en-US");

/** Format a value by the API's column format. */
export function fmtBy(format: string, v: unknown): string {
  if (format === "text") return v == null ? "—" : String(v);
  const n = typeof v === "number" ? v : null;
  if (format === "percent") return fmtPct(n);
  if (format === "count") return fmtCount(n);
  return fmtNum(n);
}

/** The banner shown while studies are still being materialized (null once all are published). */
export function materializingText(h: Health | undefined): string | null {
  if (!h || h.studies_expected <= 0 || h.studies_published >= h.studies_expected) return null;
  const running = h.studies_running ? ` (${h.studies_running} running)` : "";
  return `materializing: ${h.studies_published} of ${h.studies_expected} studies${running}`;
}
