import { useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { api } from "./lib/api";
import { materializingText } from "./lib/format";
import { parseHash, routeHash, type Route } from "./lib/route";
import { BarsExplorer } from "./views/BarsExplorer";
import { LeaderboardView } from "./views/Leaderboard";
import { StudyView } from "./views/Study";
import { SubmitView } from "./views/Submit";
import { ErrorState } from "./components/state";

function useHashRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    const on = () => setRoute(parseHash(window.location.hash));
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return route;
}

/** "materializing: N of M studies" while the graph fills in behind the UI; gone when done. */
function MaterializingBanner() {
  const health = useQuery({
    queryKey: ["health"],
    queryFn: api.health,
    refetchInterval: (q) => (materializingText(q.state.data) ? 3000 : 30000),
  });
  const text = materializingText(health.data);
  if (!text) return null;
  return (
    <div className="banner" role="status" data-testid="materializing-banner">
      {text}
    </div>
  );
}

export function App() {
  const route = useHashRoute();
  const tab = (view: Route["view"], label: string, href: string) => (
    <a href={href} className={route.view === view ? "active" : ""} data-testid={`nav-${view}`}>
      {label}
    </a>
  );
  return (
    <div className="app">
      <nav className="top">
        <span className="brand">Maestro</span>
        {tab("leaderboard", "Leaderboard", routeHash({ view: "leaderboard" }))}
        {tab("bars", "Bars", routeHash({ view: "bars" }))}
        {tab("submit", "Run & progress", routeHash({ view: "submit" }))}
        {route.view === "study" && <span className="crumb">{route.id}</span>}
        <a className="right" href="/docs" target="_blank" rel="noreferrer">API docs ↗</a>
      </nav>
      <MaterializingBanner />
      <main>
        {route.view === "leaderboard" && <LeaderboardView sort={route.sort} dir={route.dir} verdict={route.verdict} />}
        {route.view === "study" && <StudyView key={route.id} id={route.id} />}
        {route.view === "bars" && <BarsExplorer symbol={route.symbol} tf={route.tf} />}
        {route.view === "submit" && <SubmitView study={route.study} run={route.run} />}
        {route.view === "notfound" && <ErrorState title="Page not found" error={`no view at ${route.path}`} />}
      </main>
    </div>
  );
}
