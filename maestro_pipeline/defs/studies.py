"""Walk-forward optimization studies: one Optuna-driven study per strategy x symbol x timeframe."""

import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any

import dagster as dg
from pydantic import Field, create_model

from maestro_pipeline.catalog import load_catalog
from maestro_pipeline.defs.market_data import bars
from maestro_pipeline.defs.metadata import folds_markdown
from maestro_pipeline.defs.partitions import study_key, study_partitions
from maestro_pipeline.defs.resources import (
    LakeResource,
    MarketDataResource,
    OptunaResource,
    WarehouseResource,
)
from maestro_pipeline.defs.strategies import strategy_code
from maestro_pipeline.defs.study_checks import cross_check_result, oos_coverage
from maestro_pipeline.defs.validation_metadata import validation_metadata
from maestro_pipeline.engine.metrics import finite_or_none
from maestro_pipeline.engine.verdict import THRESHOLDS
from maestro_pipeline.engine.walk_forward.config import SettingInfo, setting_infos
from maestro_pipeline.keys import BIAS_CHECK, CROSS_CHECK, STRATEGY_DIM, STUDY_ASSET, StudyKey
from maestro_pipeline.settings import load_settings
from maestro_pipeline.storage.studies import (
    StudyStore,
    count_study_rows,
    replace_study_rows,
    summary_row,
)

GROUP = "studies"


def _config_field(info: SettingInfo) -> tuple[Any, Any]:
    # Dagster config knows enums (a drop-down in the launchpad), not Literal types.
    kind: Any = (
        Enum(f"{info.name.title()}Choice", {c: c for c in info.choices})
        if info.choices
        else info.type
    )
    description = (
        f"{info.description} ({info.bounds_text() + '; ' if info.bounds_text() else ''}"
        f"unset: {info.env_var}, else {info.default!r})"
    )
    return kind | None, Field(default=None, description=description)


# The launchpad's study settings: every field of the one study spec (WalkForwardConfig), unset
# by default so that the deployment's MAESTRO_STUDY_* defaults apply at run time.
WalkForwardStudyConfig: type[dg.Config] = create_model(  # type: ignore[call-overload]
    "WalkForwardStudyConfig",
    __base__=dg.Config,
    __doc__="How a study splits the bars and searches parameters (editable in the launchpad).",
    **{info.name: _config_field(info) for info in setting_infos()},
)


def _progress_writer(
    store: StudyStore, key: StudyKey, run_id: str, log: Callable[[str], None]
) -> Callable[[Any], None]:
    """Publishes a running study's progress for watchers (throttled) and logs it."""
    last_update = [0.0]

    def publish(progress: Any) -> None:
        now = time.monotonic()
        if progress.trials_done < progress.n_trials and now - last_update[0] < 1.0:
            return
        last_update[0] = now
        store.write_progress(
            key,
            {
                "status": "running",
                "run_id": run_id,
                "fold": progress.fold,
                "n_folds": progress.n_folds,
                "trials_done": progress.trials_done,
                "n_trials": progress.n_trials,
                "best_value": progress.best_value,
            },
        )
        log(
            f"fold {progress.fold + 1}/{progress.n_folds}: "
            f"{progress.trials_done}/{progress.n_trials} trials, best {progress.best_value}"
        )

    return publish


with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)  # the mapping is marked beta
    _BY_STRATEGY = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name=STRATEGY_DIM)


@dg.asset(
    name=STUDY_ASSET,
    partitions_def=study_partitions,
    # A backfill runs studies in batches: one process imports the engine once for many studies,
    # and two batches side by side fill two cores (dagster.yaml limits study runs to two).
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=11),
    group_name=GROUP,
    kinds={"optuna", "vectorbt", "parquet"},
    deps=[
        # A study reads the whole history of its symbol, so it depends on every month of bars.
        dg.AssetDep(bars, partition_mapping=dg.AllPartitionMapping()),
        # ...and on its strategy's code: a new code version marks the strategy's studies stale.
        dg.AssetDep(strategy_code, partition_mapping=_BY_STRATEGY),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "oos_equity_covers_every_fold",
            asset=STUDY_ASSET,
            description="Walk-forward: every fold traded its OOS window in the stitched equity. "
            "CPCV: every path covers every bar once, every split's test groups sit on their "
            "paths, and the equity is the representative path.",
        ),
        dg.AssetCheckSpec(
            BIAS_CHECK,
            asset=STUDY_ASSET,
            blocking=True,
            description="Before the study runs: no lookahead, a stable warm-up, sound signals "
            "(maestro check); a failure stops the study and everything downstream.",
        ),
        dg.AssetCheckSpec(
            CROSS_CHECK,
            asset=STUDY_ASSET,
            description="Every study's OOS windows re-run on the other engine (v1, Backtrader, "
            "for a v2 study): fails when Sharpe, return or trade count deviate by more than "
            f"the tolerance ({THRESHOLDS.cross_check_tolerance:.0%}) on any window; settings the "
            "engine cannot express are named "
            "in 'unsupported' (a warning, not a pass).",
        ),
    ],
)
def walk_forward_study(
    context: dg.AssetExecutionContext,
    config: WalkForwardStudyConfig,  # type: ignore[valid-type]
    market_data: MarketDataResource,
    lake: LakeResource,
    warehouse: WarehouseResource,
    optuna: OptunaResource,
) -> Iterator[dg.AssetCheckResult | dg.MaterializeResult]:
    """Walk-forward optimization of one strategy on one symbol and timeframe (Optuna per fold)."""
    overrides = {
        name: value.value if isinstance(value, Enum) else value
        for name, value in config.model_dump().items()
        if value is not None
    }
    study_config = load_settings().study_config(**overrides)
    market = market_data.resolve()
    catalog = load_catalog()
    # Every study of the run passes its bias checks before any of them runs (blocking).
    prepared = [_prepare(context, p, catalog, market, lake) for p in context.partition_keys]
    check, failures = _bias_checks(context, prepared, lake.studies)
    yield check
    if failures:
        raise dg.Failure(
            description="the bias checks failed, no study of the run runs: "
            + "; ".join(f"{p}: {m}" for p, m in failures.items())
        )
    if study_config.engine_version == "v1":
        context.log.warning(
            "engine v1: every trial is simulated in Backtrader, one at a time, bar by bar: "
            "expect this study to take many times longer than on v2"
        )
    uncovered: dict[str, dict[str, Any]] = {}
    cross_checks: dict[str, Any] = {}
    for study in prepared:
        metadata, coverage, checked = _study(
            context, study, study_config, market, lake, warehouse, optuna
        )
        context.add_asset_metadata(metadata, partition_key=study.partition)
        if not coverage["covered"]:
            uncovered[study.partition] = coverage
        cross_checks[study.partition] = checked
    n = len(prepared)
    yield dg.MaterializeResult(
        check_results=[
            dg.AssetCheckResult(
                check_name="oos_equity_covers_every_fold",
                passed=not uncovered,
                metadata={"studies_checked": n, "uncovered": dg.MetadataValue.json(uncovered)},
            ),
            cross_check_result(cross_checks),
        ]
    )


@dataclass
class _Prepared:
    """A study of the run with its strategy, the strategy's source and its bars."""

    partition: str
    key: StudyKey
    strategy: Any
    source: str
    bars: Any
    report: Any = None


def _prepare(
    context: dg.AssetExecutionContext, partition: str, catalog: Any, market: Any, lake: Any
) -> _Prepared:
    from maestro_pipeline.catalog import BrokenStrategyError, UnknownStrategyError

    key = study_key(partition)
    try:
        strategy = catalog.get(key.strategy)
    except (UnknownStrategyError, BrokenStrategyError) as exc:
        lake.studies.write_progress(
            key, {"status": "failed", "run_id": context.run.run_id, "error": str(exc)[:500]}
        )
        raise dg.Failure(description=str(exc)) from None
    source = catalog.entry(key.strategy).source  # type: ignore[union-attr]
    bar_frame = lake.lake.read_bars(market.lake_exchange, key.symbol, key.timeframe)
    return _Prepared(partition, key, strategy, source, bar_frame)


def _bias_checks(
    context: dg.AssetExecutionContext, studies: list[_Prepared], store: StudyStore
) -> tuple[dg.AssetCheckResult, dict[str, str]]:
    """One check result over the run's studies, and the failures by partition (any failure
    stops them all: a study never runs on a strategy with lookahead or an unstable warm-up)."""
    from maestro_pipeline.engine.bias import MIN_BARS, check_strategy
    from maestro_pipeline.engine.strategy import OHLCV

    run_id = context.run.run_id
    failures: dict[str, str] = {}
    metadata: dict[str, Any] = {"studies_checked": len(studies)}
    for study in studies:
        ohlcv = OHLCV.from_bars(study.bars)
        if len(ohlcv) < MIN_BARS:
            failures[study.partition] = f"{len(ohlcv)} bars: the bias checks need {MIN_BARS}"
            continue
        report = check_strategy(ohlcv, study.strategy)
        study.report = report
        failed = report.failures()
        if failed:
            failures[study.partition] = "; ".join(
                f"{c.name} check failed: {c.summary}" for c in failed
            )
            if failed[0].finding is not None and "first_offending_bar" not in metadata:
                metadata["first_offending_bar"] = dg.MetadataValue.json(
                    {
                        "study": study.key.study_id,
                        "check": failed[0].name,
                        **vars(failed[0].finding),
                    }
                )
    if len(studies) == 1 and studies[0].report is not None:
        report = studies[0].report
        metadata.update(
            strategy_version=report.version,
            bars=report.n_bars,
            parameter_sets=dg.MetadataValue.json(report.param_sets),
            **{c.name: ("passed: " if c.passed else "FAILED: ") + c.summary for c in report.checks},
        )
    metadata["failures"] = dg.MetadataValue.json(failures)
    if failures:
        for study in studies:
            message = failures.get(study.partition, "another study of the run failed its checks")
            store.write_progress(
                study.key, {"status": "failed", "run_id": run_id, "error": message[:500]}
            )
    result = dg.AssetCheckResult(
        check_name=BIAS_CHECK,
        passed=not failures,
        metadata=metadata,
        description="; ".join(f"{p}: {m}" for p, m in failures.items()) or None,
    )
    return result, failures


def _study(
    context: dg.AssetExecutionContext,
    study: _Prepared,
    study_config: Any,
    market: Any,
    lake: LakeResource,
    warehouse: WarehouseResource,
    optuna: OptunaResource,
) -> tuple[dict[str, Any], dict[str, int], Any]:
    """Run, publish and store one study; its metadata, how its equity covers the folds and
    its engine cross-check."""
    from maestro_pipeline.optimization.runs import run_study
    from maestro_pipeline.optimization.storages import is_shared_storage, storage_of_study

    key, strategy, source, bar_frame = study.key, study.strategy, study.source, study.bars
    store = lake.studies
    run_id = context.run.run_id
    context.log.info(
        f"{key.study_id}: strategy version {strategy.code_version} ({source}), "
        f"{bar_frame.height} bars, {study_config.as_dict()}"
    )
    store.write_progress(key, {"status": "running", "run_id": run_id, "fold": 0})
    try:
        result = run_study(
            bar_frame,
            strategy,
            study_config,
            storage=storage_of_study(optuna.url, key.study_id),
            exclusive=not is_shared_storage(optuna.url),
            study_prefix=f"{market.lake_exchange}:{key.study_id}",
            progress=_progress_writer(store, key, run_id, context.log.info),
            # Where `maestro worker` processes find these bars (MAESTRO_DATA_DIR's lake).
            source={
                "exchange": market.lake_exchange,
                "symbol": key.symbol,
                "timeframe": key.timeframe,
            },
        )
    except BaseException as exc:
        store.write_progress(key, {"status": "failed", "run_id": run_id, "error": str(exc)[:500]})
        raise
    result.summary["strategy_source"] = source
    frames = {
        "folds": result.folds,
        "equity": result.equity,
        "trades": result.trades,
        "trials": result.trials,
        "paths": result.paths,
    }
    path = store.publish(key, frames, result.summary)
    with warehouse.duckdb_connection() as conn:
        replace_study_rows(conn, key, {"summary": summary_row(key, result.summary), **frames})
        stored = count_study_rows(conn, key)
    summary = result.summary
    store.write_progress(
        key,
        {
            "status": "completed",
            "run_id": run_id,
            "n_folds": result.folds.height,
            "trials_done": int(summary.get("n_trials_total") or 0),
            "version": path.name,
        },
    )
    oos = summary.get("oos", summary)
    metadata = {
        "strategy_version": strategy.code_version,
        "strategy_source": source,
        "oos_sharpe_ratio": finite_or_none(oos.get("sharpe_ratio")),
        "oos_total_return": finite_or_none(oos.get("total_return")),
        "oos_max_drawdown": finite_or_none(oos.get("max_drawdown")),
        "oos_trade_count": int(oos.get("trade_count") or 0),
        "deflated_sharpe_ratio": finite_or_none(summary.get("deflated_sharpe_ratio")),
        "pbo": finite_or_none(summary.get("pbo")),
        "wf_efficiency": finite_or_none(summary.get("wf_efficiency")),
        **validation_metadata(summary),
        "n_trials_total": int(summary.get("n_trials_total") or 0),
        "timings_seconds": dg.MetadataValue.json(summary.get("timings", {})),
        "param_stability": dg.MetadataValue.json(summary.get("param_stability", {})),
        "folds": dg.MetadataValue.md(folds_markdown(result.folds)),
        "warehouse_rows": dg.MetadataValue.json(stored),
        "path": dg.MetadataValue.path(str(path)),
        "dagster/row_count": result.equity.height,
    }
    return (
        metadata,
        oos_coverage(result.folds, result.equity, result.paths, summary),
        summary.get("cross_check"),
    )


study_assets = [walk_forward_study]
