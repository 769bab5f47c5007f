// Hash routes: the URL holds the view and its selection.
//   #/                      leaderboard (?sort=col&dir=asc|desc&verdict=robust,fragile)
//   #/study/<study id>      one study
//   #/submit                submit a study and follow its progress (?study=<id>&run=<run id>)
//   #/bars?symbol=BTC-USD&tf=4h

export type Route =
  | { view: "leaderboard"; sort?: string; dir?: "asc" | "desc"; verdict?: string }
  | { view: "study"; id: string }
  | { view: "submit"; study?: string; run?: string }
  | { view: "bars"; symbol?: string; tf?: string }
  | { view: "notfound"; path: string };

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#/, "") || "/";
  const [path, query = ""] = raw.split("?", 2);
  const q = new URLSearchParams(query);
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const opt = (k: string) => q.get(k) || undefined;
  if (parts.length === 0 || parts[0] === "leaderboard") {
    const dir = q.get("dir");
    return {
      view: "leaderboard",
      sort: opt("sort"),
      dir: dir === "asc" || dir === "desc" ? dir : undefined,
      verdict: opt("verdict"),
    };
  }
  if (parts[0] === "study" && parts.length === 2) return { view: "study", id: parts[1] };
  if (parts[0] === "submit") return { view: "submit", study: opt("study"), run: opt("run") };
  if (parts[0] === "bars") return { view: "bars", symbol: opt("symbol"), tf: opt("tf") };
  return { view: "notfound", path };
}

export function routeHash(r: Route): string {
  const qs = (o: Record<string, string | undefined>) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(o)) if (v) q.set(k, v);
    const s = q.toString();
    return s ? `?${s}` : "";
  };
  switch (r.view) {
    case "leaderboard":
      return `#/${qs({ sort: r.sort, dir: r.dir, verdict: r.verdict })}`;
    case "study":
      return `#/study/${encodeURIComponent(r.id)}`;
    case "submit":
      return `#/submit${qs({ study: r.study, run: r.run })}`;
    case "bars":
      return `#/bars${qs({ symbol: r.symbol, tf: r.tf })}`;
    default:
      return `#${r.path}`;
  }
}

/** "BTC/USD" -> "BTC-USD" (the API's path form); slugs pass through. */
export const symbolSlug = (symbol: string) => symbol.replace("/", "-");

/** ema_cross.BTC-USD.1h -> its parts (null when the id is not of that shape). */
export function parseStudyId(id: string): { strategy: string; slug: string; timeframe: string } | null {
  const m = /^(\w+)\.([A-Za-z0-9]+-[A-Za-z0-9_]+)\.([1-9]\d*[mhdw])$/.exec(id);
  return m ? { strategy: m[1], slug: m[2], timeframe: m[3] } : null;
}
