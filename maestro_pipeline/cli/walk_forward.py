"""`maestro walk-forward`: optimize a strategy fold by fold and test it out of sample."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer

from maestro_pipeline.cli import app
from maestro_pipeline.cli.study_options import study_config, with_study_options


@app.command("walk-forward")
@with_study_options
def walk_forward_command(
    strategy: str = typer.Option(..., help="strategy name (see the catalog)"),
    data: Path | None = typer.Option(None, help="Parquet file of bars (finer bars are resampled)"),
    symbol: str | None = typer.Option(None, help="symbol in the lake, instead of --data"),
    timeframe: str = typer.Option("1h", help="bar timeframe to study"),
    storage: str | None = typer.Option(
        None,
        help="Optuna storage: SQLAlchemy URL or a *.log/*.journal file (resumable); "
        "default in memory",
    ),
    workers: int = typer.Option(
        1,
        min=1,
        help="processes optimizing each fold together (needs a persistent --storage; "
        "more machines join with `maestro worker`)",
    ),
    heartbeat: int = typer.Option(
        30, min=1, help="seconds between trial heartbeats on a database storage"
    ),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object on stdout"),
    study: dict[str, Any] | None = None,
) -> None:
    """Walk-forward study: per fold, optimize on the in-sample window, trade the next window.

    Prints the folds, the stitched out-of-sample metrics, the deflated Sharpe ratio, the
    probability of backtest overfitting and the walk-forward efficiency. A run interrupted with
    a persistent --storage resumes from its finished trials when started again. On a database
    server (PostgreSQL) storage, or with --workers N, the folds' studies are shared: `maestro
    worker` processes pointed at the same --storage join them, and each fold's trial budget
    is spent exactly once among all of them.
    """
    # Heavy imports (vectorbt, optuna) only once the arguments are known to parse.
    import optuna
    import orjson
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from maestro_pipeline.catalog import get_strategy
    from maestro_pipeline.cli.inputs import load_bars
    from maestro_pipeline.engine.walk_forward.runner import WalkForwardProgress
    from maestro_pipeline.optimization.runs import run_study
    from maestro_pipeline.optimization.storages import is_shared_storage, optuna_storage
    from maestro_pipeline.settings import load_settings

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        chosen = get_strategy(strategy)
    except KeyError as exc:
        raise typer.BadParameter(str(exc.args[0]), param_hint="--strategy") from None
    config = study_config(study or {})
    try:
        study_storage = optuna_storage(storage)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--storage") from None
    if workers > 1 and study_storage is None:
        raise typer.BadParameter(
            "several workers need a persistent --storage to share (a database URL, or a "
            "journal file on one machine)",
            param_hint="--workers",
        )
    bars = load_bars(data, symbol, timeframe)
    if data is not None:
        source: dict[str, Any] = {"data": str(data.resolve()), "timeframe": timeframe}
    else:
        source = {"exchange": load_settings().lake_exchange, "symbol": symbol}
        source["timeframe"] = timeframe
    splits, trials = config.n_splits, config.n_trials

    stderr = Console(stderr=True)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[best]}"),
        TimeElapsedColumn(),
    )
    # Engine v1 simulates every trial on its own, bar by bar: say so, it is far slower.
    slow = config.engine_version == "v1"
    engine = " on v1 (Backtrader, one trial at a time: slow)" if slow else ""
    if slow:
        stderr.print(
            f"engine v1: every trial is simulated in Backtrader, one at a time, bar by bar "
            f"({splits} x {trials} trials): expect minutes, not seconds"
        )
    with Progress(*columns, console=stderr, transient=False) as bar:
        task = bar.add_task(f"{strategy} walk-forward{engine}", total=splits * trials, best="")

        def report(state: WalkForwardProgress) -> None:
            best = "" if state.best_value is None else f"best {state.best_value:.3g}"
            bar.update(
                task,
                total=state.n_folds * state.n_trials,  # cpcv: one search per split
                completed=state.fold * state.n_trials + min(state.trials_done, state.n_trials),
                description=f"fold {state.fold + 1}/{state.n_folds}{engine}",
                best=best,
            )

        helpers = [_start_worker(storage, heartbeat) for _ in range(workers - 1)]
        try:
            result = run_study(
                bars,
                chosen,
                config,
                storage=study_storage,
                progress=report,
                exclusive=workers == 1 and not is_shared_storage(storage),
                source=source,
                heartbeat_interval=heartbeat,
            )
        except ValueError as exc:
            bar.stop()
            stderr.print(f"[red]Error:[/red] {exc}")
            raise typer.Exit(1) from None
        finally:
            for helper in helpers:
                helper.terminate()
            for helper in helpers:
                helper.wait()

    payload = _payload(result, data, symbol, timeframe)
    if as_json:
        sys.stdout.buffer.write(
            orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
        )
        sys.stdout.buffer.write(b"\n")
        sys.stdout.flush()
        return
    _print_report(payload)


def _start_worker(storage: str | None, heartbeat: int) -> subprocess.Popen:
    """A `maestro worker` process on ``storage``; it waits for the studies this run creates."""
    command = [sys.executable, "-m", "maestro_pipeline.cli", "worker", "--storage", str(storage),
               "--heartbeat", str(heartbeat), "--idle-timeout", "3600", "--quiet"]  # fmt: skip
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def _payload(result: Any, data: Path | None, symbol: str | None, timeframe: str) -> dict:
    from maestro_pipeline.engine.metrics import json_safe

    folds = []
    for row in result.folds.to_dicts():
        row["best_params"] = json.loads(row["best_params"])
        for name in ("is_start", "is_end", "oos_start", "oos_end"):
            row[name] = row[name].isoformat() if row[name] is not None else None
        folds.append(row)
    summary = dict(result.summary)
    return json_safe(
        {
            "strategy": summary["strategy"],
            "strategy_version": summary.get("strategy_version"),
            "source": str(data) if data is not None else symbol,
            "timeframe": timeframe,
            "config": summary["config"],
            "folds": folds,
            "oos": summary["oos"],
            "deflated_sharpe_ratio": summary["deflated_sharpe_ratio"],
            "deflated_sharpe": summary["deflated_sharpe"],
            "pbo": summary["pbo"],
            "pbo_details": summary["pbo_details"],
            "wf_efficiency": summary["wf_efficiency"],
            "param_stability": summary["param_stability"],
            "scheme": summary["scheme"],
            "cpcv": summary["cpcv"],
            "bootstrap": summary["bootstrap"],
            "trade_monte_carlo": summary["trade_monte_carlo"],
            "plateau": summary["plateau"],
            "cross_check": summary["cross_check"],
            "verdict": summary["verdict"],
            "verdict_details": summary["verdict_details"],
            "n_trials_total": summary["n_trials_total"],
            "n_evaluated_here": summary["n_evaluated_here"],
            "timings": summary["timings"],
            "data_fingerprint": summary["data_fingerprint"],
            "config_fingerprint": summary["config_fingerprint"],
        }
    )


def _fmt(value: Any, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def _param(value: Any) -> str:
    """A chosen parameter for the table: floats to 4 significant digits (the JSON keeps all)."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _print_report(payload: dict) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console()
    names = list(payload["param_stability"])
    table = Table(
        title=f"{payload['strategy']} (version {payload['strategy_version']}) walk-forward on "
        f"{payload['source']}",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    # Short headers fit 80 columns: OOS figures but for IS (the in-sample objective); c/p/i =
    # complete, pruned and infeasible trials.
    headers = ("#", "OOS from", " ".join(names), "IS", "Sharpe", "return", "trades",
               "WFE", "c/p/i")  # fmt: skip
    for name in headers:
        table.add_column(name, no_wrap=True)
    for row in payload["folds"]:
        table.add_row(
            str(row["fold"]),
            row["oos_start"][:10],
            " ".join(_param(row["best_params"].get(name, "-")) for name in names),
            _fmt(row["best_value"], ".2f"),
            _fmt(row["oos_sharpe_ratio"], ".2f"),
            _fmt(row["oos_total_return"], ".1%"),
            str(int(row["oos_trade_count"])),
            _fmt(row["wf_efficiency"], ".2f"),
            f"{row['n_complete']}/{row['n_pruned']}/{row['n_infeasible']}",
        )
    console.print(table)
    oos = payload["oos"]
    console.print(
        f"stitched OOS: Sharpe {_fmt(oos['sharpe_ratio'], '.2f')}, "
        f"Sortino {_fmt(oos['sortino_ratio'], '.2f')}, return {_fmt(oos['total_return'], '.2%')}, "
        f"CAGR {_fmt(oos['cagr'], '.2%')}, max drawdown {_fmt(oos['max_drawdown'], '.2%')}, "
        f"{int(oos['trade_count'])} trades"
    )
    console.print(
        f"deflated Sharpe {_fmt(payload['deflated_sharpe_ratio'])}, "
        f"PBO {_fmt(payload['pbo'])}, WF efficiency (median) {_fmt(payload['wf_efficiency'])}"
    )
    stability = ", ".join(
        f"{name} cv={_fmt(s['cv'], '.2f')}"
        if s["kind"] == "numeric"
        else f"{name} {s['mode']} in {s['mode_share']:.0%}"
        for name, s in payload["param_stability"].items()
    )
    console.print(f"parameter stability: {stability}")
    _print_validation(console, payload)
    timings = payload["timings"]
    console.print(
        f"time: {timings['total']:.1f} s (sampling {timings['sampling']:.1f}, "
        f"backtesting {timings['backtesting']:.1f}, other {timings['other']:.1f}); "
        f"{payload['n_evaluated_here']} of {payload['n_trials_total']} trials evaluated now"
    )


def _print_validation(console: Any, payload: dict) -> None:
    """Bootstrap interval, cpcv paths, plateau and the verdict with its reasons."""
    boot = payload["bootstrap"] or {}
    sharpe = boot.get("sharpe_ratio") or {}
    if "low" in sharpe:
        console.print(
            f"bootstrap {boot['confidence']:.0%}: Sharpe [{_fmt(sharpe['low'], '.2f')}, "
            f"{_fmt(sharpe['high'], '.2f')}], P(loss) {_fmt(boot['probability_of_loss'], '.0%')}"
        )
    cpcv = payload["cpcv"]
    if cpcv:
        paths = cpcv["sharpe_ratio"]
        console.print(
            f"cpcv {cpcv['n_paths']} paths: Sharpe mean {_fmt(paths['mean'], '.2f')}, "
            f"std {_fmt(paths['std'], '.2f')}, below 0 in {_fmt(paths['share_below_zero'], '.0%')}"
        )
    console.print(f"plateau score {_fmt(payload['plateau']['score'], '.2f')}")
    check = payload["cross_check"] or {}
    if check.get("unsupported"):
        console.print(f"engine cross-check not run: {check['unsupported']}")
    elif check.get("passed") is not None:
        outcome = "passed" if check["passed"] else "[bold red]FAILED[/bold red]"
        console.print(
            f"engine cross-check on {check['engine']}: {outcome}, largest deviation "
            f"{_fmt(check['max_deviation'], '.1e')} (tolerance {check['tolerance']:.0%}, "
            f"{len(check['folds'])} windows, {check['seconds']:.1f} s)"
        )
    console.print(f"verdict: [bold]{payload['verdict']}[/bold]")
    for reason in payload["verdict_details"]["reasons"]:
        console.print(f"  - {reason}")
