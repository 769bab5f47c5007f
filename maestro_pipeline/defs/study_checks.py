"""What ``oos_equity_covers_every_fold`` verifies of a study's out-of-sample results.

* walk-forward: every fold traded its OOS window, so each fold appears in the stitched equity;
* cpcv: the equity is one path of several, so the check reads the paths: every published
  path covers every bar exactly once (the bars of each group, in time order), every split's
  test result sits on the paths it was assigned to (each (split, test group) pair of
  ``summary["cpcv"]["splits"]`` and nothing else), and the study's equity is the
  representative path's.
"""

from __future__ import annotations

from typing import Any

import polars as pl


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
