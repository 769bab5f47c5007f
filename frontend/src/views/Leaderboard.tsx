import { useQuery } from "@tanstack/react-query";
import { api, type Column, type LeaderboardRow } from "../lib/api";
import { fmtBy, sortRows } from "../lib/format";
import { routeHash } from "../lib/route";
import { parseVerdicts, toggleVerdict } from "../lib/validation";
import { Empty, ErrorState, Loading } from "../components/state";
import { VerdictBadge } from "../components/validation";

type Col = { key: string; label: string; format: Column["format"]; num: boolean; choices?: string[] | null };

// The study's keys; the figure columns (their labels and formats) come from GET /meta.
const KEY_COLS: Col[] = [
  { key: "rank", label: "#", format: "count", num: true },
  { key: "strategy", label: "strategy", format: "text", num: false },
  { key: "symbol", label: "symbol", format: "text", num: false },
  { key: "timeframe", label: "tf", format: "text", num: false },
  // The fingerprint of the strategy code each row was produced with.
  { key: "strategy_version", label: "code", format: "text", num: false },
];

export function leaderboardColumns(figures: Column[]): Col[] {
  return [
    ...KEY_COLS,
    ...figures.map((c) => ({ key: c.name, label: c.label, format: c.format, num: c.format !== "text", choices: c.choices })),
  ];
}

/** Toggle buttons over the verdicts /meta lists; the selection lives in the URL. */
function VerdictFilter({ known, selected, link }: { known: string[]; selected: string[]; link: (v: string[]) => string }) {
  return (
    <div className="toolbar verdict-filter" data-testid="verdict-filter" role="group" aria-label="filter by verdict">
      <span className="muted">verdict:</span>
      <a href={link([])} className={`chip ${selected.length ? "" : "active"}`} data-testid="verdict-filter-all">
        all
      </a>
      {known.map((v) => (
        <a
          key={v}
          href={link(toggleVerdict(selected, v, known))}
          className={`chip badge-${v} ${selected.includes(v) ? "active" : ""}`}
          aria-pressed={selected.includes(v)}
          data-testid={`verdict-filter-${v}`}
        >
          {v}
        </a>
      ))}
    </div>
  );
}

export function LeaderboardView({ sort, dir, verdict }: { sort?: string; dir?: "asc" | "desc"; verdict?: string }) {
  const meta = useQuery({ queryKey: ["meta"], queryFn: api.meta, staleTime: Infinity });
  const COLS = leaderboardColumns(meta.data?.leaderboard_columns ?? []);
  const known = COLS.find((c) => c.key === "verdict")?.choices ?? [];
  const selected = parseVerdicts(verdict, known);
  const q = useQuery({
    queryKey: ["leaderboard", selected],
    queryFn: () => api.leaderboard(selected),
    enabled: !!meta.data,
  });
  const link = (v: string[]) => routeHash({ view: "leaderboard", sort, dir, verdict: v.join(",") || undefined });
  const key = (COLS.find((c) => c.key === sort)?.key ?? "rank") as keyof LeaderboardRow;
  const direction = dir ?? "asc";
  const header = (
    <h2>Leaderboard <small className="muted">verdicts and out-of-sample figures, ranked by Sharpe · click a column to sort, a row to open</small></h2>
  );
  const filter = known.length ? <VerdictFilter known={known} selected={selected} link={link} /> : null;
  if (meta.isError) return <section data-testid="leaderboard-view">{header}<ErrorState title="Leaderboard unavailable" error={meta.error} /></section>;
  if (q.isError) return <section data-testid="leaderboard-view">{header}<ErrorState title="Leaderboard unavailable" error={q.error} /></section>;
  if (!q.data || !meta.data) return <section data-testid="leaderboard-view">{header}{filter}<Loading what="leaderboard" /></section>;
  if (!q.data.rows.length)
    return (
      <section data-testid="leaderboard-view">
        {header}
        {filter}
        <Empty>
          {selected.length
            ? `No study is ${selected.join(" or ")}.`
            : "No studies ranked yet: materialize studies and the leaderboard asset."}
        </Empty>
      </section>
    );
  const rows = sortRows(q.data.rows, key, direction);
  const open = (id: string) => (window.location.hash = routeHash({ view: "study", id }));
  return (
    <section data-testid="leaderboard-view" data-verdicts={selected.join(",")}>
      {header}
      {filter}
      <table className="grid clickable" data-testid="leaderboard-table">
        <thead>
          <tr>
            {COLS.map((c) => {
              const active = c.key === key;
              const next = active && direction === "asc" ? "desc" : active ? "asc" : c.num && c.key !== "rank" ? "desc" : "asc";
              return (
                <th key={c.key} className={c.num ? "num" : undefined} aria-sort={active ? (direction === "asc" ? "ascending" : "descending") : "none"}>
                  <a href={routeHash({ view: "leaderboard", sort: c.key, dir: next, verdict })} data-testid={`sort-${c.key}`}>
                    {c.label}
                    {active ? (direction === "asc" ? " ▲" : " ▼") : ""}
                  </a>
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.study_id} data-testid="leaderboard-row" data-study-id={r.study_id} data-verdict={r.verdict ?? ""} onClick={() => open(r.study_id)} tabIndex={0} onKeyDown={(e) => e.key === "Enter" && open(r.study_id)}>
              {COLS.map((c) => {
                const v = r[c.key];
                return (
                  <td key={c.key} className={c.num ? "num" : undefined}>
                    {c.choices ? <VerdictBadge verdict={v as string | null} /> : fmtBy(c.format, v)}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
