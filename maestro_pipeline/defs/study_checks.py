"""The study asset's checks over a run's studies.

``engine_cross_check`` reads each study's ``summary["cross_check"]`` (the engine's
``walk_forward.cross_check``): it fails at error severity when any study's engines disagree
beyond the tolerance, and warns when a study could not be checked, naming why.

``oos_equity_covers_every_fold`` verifies a study's out-of-sample results:

* walk-forward: every fold traded its OOS window, so each fold appears in the stitched equity;
* cpcv: the equity is one path of several, so the check reads the paths: every published
  path covers every bar exactly once (the bars of each group, in time order), every split's
  test result sits on the paths it was assigned to (each (split, test group) pair of
  ``summary["cpcv"]["splits"]`` and nothing else), and the study's equity is the
  representative path's.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import polars as pl

from maestro_pipeline.keys import CROSS_CHECK


def oos_coverage(
    folds: pl.DataFrame, equity: pl.DataFrame, paths: pl.DataFrame, summary: dict[str, Any]
) -> dict[str, Any]:
    """How a study's OOS results cover its searches; ``covered`` is the check's verdict and
    the other keys say what was counted."""
    cpcv = summary.get("cpcv")
    if summary.get("scheme") == "cpcv" and isinstance(cpcv, dict):
        return _cpcv_coverage(folds, equity, paths, cpcv)
    fold_ids = set(folds.get_column("fold").to_list())
    in_equity = set(equity.get_column("fold").unique().to_list()) & fold_ids
    return {
        "scheme": "walk_forward",
        "folds": len(fold_ids),
        "folds_in_equity": len(in_equity),
        "equity_rows": equity.height,
        "covered": bool(equity.height) and in_equity == fold_ids,
    }


def _cpcv_coverage(
    folds: pl.DataFrame, equity: pl.DataFrame, paths: pl.DataFrame, cpcv: dict[str, Any]
) -> dict[str, Any]:
    groups = {g["group"]: (g["start_index"], g["stop_index"]) for g in cpcv["groups"]}
    n_bars = sum(stop - start for start, stop in groups.values())
    assigned = {
        (split["fold"], group, path)
        for split in cpcv["splits"]
        for group, path in zip(split["test_groups"], split["paths"], strict=True)
    }
    times = equity.get_column("timestamp")
    group_of_bar = pl.Series(
        "group", [g for g, (start, stop) in sorted(groups.items()) for _ in range(start, stop)]
    )
    complete = 0
    seen: set[tuple[int, int, int]] = set()
    for (path,), frame in paths.group_by("path", maintain_order=True):
        # Row by row, a path must be the study's bars in time order, each once, every bar in
        # the group its index says.
        if (
            frame.height == n_bars == times.len()
            and frame.get_column("timestamp").equals(times)
            and frame.get_column("group").equals(group_of_bar, check_dtypes=False)
        ):
            complete += 1
        pairs = frame.select("fold", "group").unique().iter_rows()
        seen.update((fold, group, int(path)) for fold, group in pairs)  # type: ignore[arg-type]
    representative = cpcv.get("representative_path")
    rep_equity = paths.filter(pl.col("path") == representative).sort("timestamp")
    is_representative = rep_equity.height == equity.height > 0 and rep_equity.get_column(
        "equity"
    ).equals(equity.get_column("equity"))
    split_ids = set(folds.get_column("fold").to_list())
    in_paths = {fold for fold, _, _ in seen & assigned}
    n_published = paths.get_column("path").n_unique() if paths.height else 0
    return {
        "scheme": "cpcv",
        "splits": len(split_ids),
        "splits_in_paths": len(in_paths & split_ids),
        "unassigned_results": len(seen - assigned),
        "paths": int(cpcv["n_paths"]),
        "paths_published": n_published,
        "paths_covering_every_bar": complete,
        "bars": n_bars,
        "equity_is_representative_path": is_representative,
        "equity_rows": equity.height,
        "covered": (
            seen == assigned
            and in_paths == split_ids
            and complete == n_published == int(cpcv["n_paths"])
            and is_representative
        ),
    }


def cross_check_result(reports: dict[str, Any]) -> dg.AssetCheckResult:
    """The ``engine_cross_check`` result over a run's studies (``summary["cross_check"]`` by
    partition): failed (error) when any study's engines disagree beyond the tolerance; a
    warning when some could not be checked (``unsupported`` names them and why); passed
    when every study was checked and agreed."""
    failed = {p: r for p, r in reports.items() if r and r.get("passed") is False}
    unsupported = {
        p: (r or {}).get("unsupported") or "no cross-check in the summary"
        for p, r in reports.items()
        if not r or r.get("passed") is None
    }
    deviations = {p: (r or {}).get("max_deviation") for p, r in reports.items()}
    worst = max((d for d in deviations.values() if d is not None), default=None)
    first = next(iter(reports.values()), None) or {}
    metadata: dict[str, Any] = {
        "studies_checked": len(reports) - len(unsupported),
        "engine": str(first.get("engine", "v1")),
        "tolerance": first.get("tolerance"),
        "max_deviation": worst,
        "max_deviation_by_study": dg.MetadataValue.json(deviations),
        "failed": dg.MetadataValue.json(
            {p: [f for f in r["folds"] if max(f["deviation"].values()) > r["tolerance"]]
             for p, r in failed.items()}
        ),
        "unsupported": dg.MetadataValue.json(unsupported),
        "seconds": sum(float((r or {}).get("seconds") or 0.0) for r in reports.values()),
    }  # fmt: skip
    if failed:
        description = "engines disagree beyond the tolerance on: " + ", ".join(failed)
    elif unsupported:
        description = "not cross-checked: " + "; ".join(f"{p}: {m}" for p, m in unsupported.items())
    else:
        description = None
    return dg.AssetCheckResult(
        check_name=CROSS_CHECK,
        passed=not failed and not unsupported,
        severity=dg.AssetCheckSeverity.ERROR if failed else dg.AssetCheckSeverity.WARN,
        metadata=metadata,
        description=description,
    )
