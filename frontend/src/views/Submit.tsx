import { useMutation, useQuery } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { api, progressSocketUrl, type Progress, type StudyRequest } from "../lib/api";
import { fmtNum } from "../lib/format";
import { parseStudyId, routeHash, symbolSlug } from "../lib/route";
import { ErrorState, Loading } from "../components/state";

type Feed = { state: "idle" | "connecting" | "open" | "closed" | "error"; messages: Progress[]; reason?: string };

/** Follow a study's progress over the API's WebSocket until it closes. */
function useProgress(study?: string, run?: string): Feed {
  const [feed, setFeed] = useState<Feed>({ state: "idle", messages: [] });
  useEffect(() => {
    if (!study) {
      setFeed({ state: "idle", messages: [] });
      return;
    }
    setFeed({ state: "connecting", messages: [] });
    const ws = new WebSocket(progressSocketUrl(window.location, study, run));
    ws.onopen = () => setFeed((f) => ({ ...f, state: "open" }));
    ws.onmessage = (ev) => {
      try {
        const msg = JSON.parse(ev.data as string);
        setFeed((f) =>
          msg.error
            ? { ...f, state: "error", reason: String(msg.error) }
            : { ...f, messages: [...f.messages, msg as Progress].slice(-200) },
        );
      } catch {
        /* ignore non-JSON */
      }
    };
    ws.onerror = () => setFeed((f) => ({ ...f, state: "error", reason: f.reason ?? "WebSocket error" }));
    ws.onclose = (ev) => setFeed((f) => ({ ...f, state: f.state === "error" ? "error" : "closed", reason: f.reason ?? (ev.reason || `closed (${ev.code})`) }));
    return () => ws.close();
  }, [study, run]);
  return feed;
}

function ProgressPanel({ study, run }: { study: string; run?: string }) {
  const feed = useProgress(study, run);
  const last = feed.messages[feed.messages.length - 1];
  const pct = last?.trials_done != null && last?.n_trials ? Math.min(1, last.trials_done / last.n_trials) : last?.status === "completed" ? 1 : null;
  return (
    <div className="panel" data-testid="progress" data-status={last?.status ?? feed.state}>
      <h3>Progress · {study}{run ? ` · run ${run.slice(0, 8)}` : ""}</h3>
      <p>
        connection: <strong>{feed.state}</strong>
        {feed.reason && feed.state !== "open" ? ` — ${feed.reason}` : ""}
      </p>
      {last ? (
        <>
          <p>
            status <strong data-testid="progress-status">{last.status}</strong>
            {last.n_folds != null && ` · fold ${last.fold ?? "—"} / ${last.n_folds}`}
            {last.trials_done != null && ` · trials ${last.trials_done}${last.n_trials ? ` / ${last.n_trials}` : ""}`}
            {last.best_value != null && ` · best ${fmtNum(last.best_value)}`}
          </p>
          {pct != null && <progress max={1} value={pct} />}
          {last.error && <ErrorState title="Run failed" error={last.error} />}
          {last.status === "completed" && (
            <p><a href={routeHash({ view: "study", id: study })}>Open the study →</a></p>
          )}
        </>
      ) : feed.state !== "error" ? (
        <Loading what="progress" />
      ) : null}
    </div>
  );
}

export function SubmitView({ study, run }: { study?: string; run?: string }) {
  const health = useQuery({ queryKey: ["health"], queryFn: api.health });
  const strategies = useQuery({ queryKey: ["strategies"], queryFn: api.strategies });
  const meta = useQuery({ queryKey: ["meta"], queryFn: api.meta, staleTime: Infinity });
  // Bounds of the settings this form offers, as the study spec declares them.
  const bounds = (name: string) => {
    const s = meta.data?.study_settings.find((x) => x.name === name);
    return { min: s?.low ?? undefined, max: s?.high ?? undefined, title: s?.description };
  };
  const preset = study ? parseStudyId(study) : null;
  const [form, setForm] = useState({
    strategy: preset?.strategy ?? "ema_cross",
    symbol: preset ? preset.slug.replace("-", "/") : "BTC/USD",
    timeframe: preset?.timeframe ?? "1h",
    n_splits: "3",
    n_trials: "50",
  });
  const submit = useMutation({
    mutationFn: (req: StudyRequest) => api.submit(req),
    onSuccess: (res) => {
      window.location.hash = routeHash({ view: "submit", study: res.study_id, run: res.run_id });
    },
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    const req: StudyRequest = { strategy: form.strategy, symbol: form.symbol, timeframe: form.timeframe };
    if (form.n_splits) req.n_splits = Number(form.n_splits);
    if (form.n_trials) req.n_trials = Number(form.n_trials);
    submit.mutate(req);
  };
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });
  const watchId = `${form.strategy}.${symbolSlug(form.symbol)}.${form.timeframe}`;

  return (
    <section data-testid="submit-view">
      <h2>Run a study</h2>
      <form className="submit" onSubmit={onSubmit} data-testid="submit-form">
        <label>
          strategy
          <select value={form.strategy} onChange={set("strategy")} name="strategy">
            {(strategies.data ?? [{ name: form.strategy, error: null }]).map((s) => (
              <option key={`${s.name}|${s.error ?? ""}`} value={s.name} disabled={!!s.error} title={s.error ?? undefined}>
                {s.error ? `${s.name} (broken)` : s.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          symbol
          <select value={form.symbol} onChange={set("symbol")} name="symbol">
            {(health.data?.symbols ?? [form.symbol]).map((s) => <option key={s}>{s}</option>)}
          </select>
        </label>
        <label>
          timeframe
          <select value={form.timeframe} onChange={set("timeframe")} name="timeframe">
            {(health.data?.timeframes ?? [form.timeframe]).map((t) => <option key={t}>{t}</option>)}
          </select>
        </label>
        <label>
          splits
          <input type="number" {...bounds("n_splits")} value={form.n_splits} onChange={set("n_splits")} name="n_splits" />
        </label>
        <label>
          trials / fold
          <input type="number" {...bounds("n_trials")} value={form.n_trials} onChange={set("n_trials")} name="n_trials" />
        </label>
        <button type="submit" disabled={submit.isPending} data-testid="submit-button">
          {submit.isPending ? "Submitting…" : "Run study"}
        </button>
        <a className="button" href={routeHash({ view: "submit", study: watchId })} onClick={() => submit.reset()} data-testid="watch-button">
          Watch progress
        </a>
      </form>
      {strategies.isError && <ErrorState title="Strategies unavailable" error={strategies.error} />}
      {(strategies.data ?? []).filter((s) => s.error).map((s) => (
        <p className="muted" key={`broken-${s.name}-${s.source}`} data-testid="broken-strategy">
          <strong>{s.name}</strong> cannot be loaded: {s.error}
        </p>
      ))}
      {(() => {
        const chosen = strategies.data?.find((s) => s.name === form.strategy && !s.error);
        return chosen ? (
          <p className="muted" data-testid="strategy-rule">
            <strong>{chosen.name}</strong>
            {chosen.source && chosen.source !== "builtin" ? ` (${chosen.source})` : ""}: {chosen.description}
          </p>
        ) : null;
      })()}
      {submit.isError && (
        <div data-testid="submit-error">
          <ErrorState title="The API refused the run" error={submit.error} />
        </div>
      )}
      {submit.data && (
        <p className="muted" data-testid="submitted">
          Launched {submit.data.study_id} as Dagster run{" "}
          <a href={submit.data.dagster_run_url} target="_blank" rel="noreferrer">{submit.data.run_id}</a>
        </p>
      )}
      {study && <ProgressPanel key={`${study}|${run ?? ""}`} study={study} run={run} />}
    </section>
  );
}
