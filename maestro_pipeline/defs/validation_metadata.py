"""A study's validation in the Dagster UI: the verdict with its reasons, the bootstrap
intervals, the plateau heatmap, the cpcv path distribution and the engine cross-check, as
Markdown tables and numbers read from the study summary (the same keys the API serves)."""

from __future__ import annotations

import bisect
from typing import Any

import dagster as dg

from maestro_pipeline.defs.metadata import format_number, markdown_table
from maestro_pipeline.engine.metrics import finite_or_none

INTERVALS = (
    ("sharpe_ratio", "Sharpe", False),
    ("cagr", "CAGR", True),
    ("max_drawdown", "max drawdown", True),
    ("total_return", "total return", True),
)
INTERVAL_KEYS = ("estimate", "low", "high")
# Heatmap cells from the lowest to the highest mean objective (Markdown has no colours).
SHADES = ("🟥", "🟧", "🟨", "🟩")
EMPTY_CELL = "·"
NOT_AVAILABLE = "not available"


def _percent(value: Any) -> str:
    number = finite_or_none(value)
    return "–" if number is None else f"{100 * number:.1f} %"


def _ratio(value: Any) -> str:
    return format_number(finite_or_none(value))


def _figure(value: Any, percent: bool) -> str:
    return _percent(value) if percent else _ratio(value)


def verdict_markdown(summary: dict[str, Any]) -> str:
    """The verdict, its reasons, and every check with its status."""
    details = summary.get("verdict_details") or {}
    lines = [f"**{summary.get('verdict') or 'no verdict'}**", ""]
    lines += [f"- {reason}" for reason in details.get("reasons", [])]
    checks = details.get("checks") or []
    if checks:
        rows = [[c["name"], _ratio(c.get("value")), c["status"], c["reason"]] for c in checks]
        lines += ["", markdown_table(["check", "value", "status", "reason"], rows)]
    return "\n".join(lines)


def bootstrap_markdown(summary: dict[str, Any]) -> str:
    """The bootstrap's confidence intervals, the probability of a loss and the trade-order
    Monte Carlo's drawdowns."""
    boot = summary.get("bootstrap") or {}
    if not boot or boot.get("error"):
        return f"bootstrap {NOT_AVAILABLE}: {boot.get('error', 'not computed')}"
    level = f"{100 * float(boot.get('confidence', 0.95)):.0f} %"
    rows = [
        [label, *(_figure((boot.get(name) or {}).get(k), percent) for k in INTERVAL_KEYS)]
        for name, label, percent in INTERVALS
    ]
    lines = [
        markdown_table(["statistic", "observed", f"{level} low", f"{level} high"], rows),
        "",
        f"probability of a loss over the OOS span: {_percent(boot.get('probability_of_loss'))} "
        f"({boot.get('n_resamples')} stationary-bootstrap resamples, mean block "
        f"{_ratio(boot.get('block_length'))} bars)",
    ]
    trades = summary.get("trade_monte_carlo") or {}
    drawdown = trades.get("max_drawdown")
    if isinstance(drawdown, dict):
        lines += [
            "",
            f"trade order ({trades.get('n_trades')} trades, {trades.get('n_shuffles')} orders): "
            f"max drawdown {_percent(trades.get('observed_max_drawdown'))} as traded, median "
            f"{_percent(drawdown.get('median'))}, 5 % of orders below "
            f"{_percent(drawdown.get('q05'))}, worst {_percent(drawdown.get('worst'))}",
        ]
    return "\n".join(lines)


def _axis_labels(axis: dict[str, Any]) -> list[str]:
    if axis.get("kind") == "categorical":
        return [str(c) for c in axis.get("categories", [])]
    return [f"{c:.3g}" for c in axis.get("centers", [])]


def _cell(axis: dict[str, Any], value: Any) -> int:
    """The heatmap cell of a parameter value (as the engine bins it)."""
    if axis.get("kind") == "categorical":
        categories = axis.get("categories", [])
        return categories.index(value) if value in categories else -1
    edges = axis.get("edges", [])
    return min(max(bisect.bisect_right(edges, float(value)) - 1, 0), len(edges) - 2)


def heatmap_markdown(heatmap: dict[str, Any] | None) -> str:
    """The mean objective over the two most important parameters, one shade per quarter of
    its range (🟥 lowest … 🟩 highest), ★ where a search chose its parameters."""
    if not heatmap:
        return f"heatmap {NOT_AVAILABLE}: fewer than two parameters"
    x, y = heatmap["x"], heatmap["y"]
    values = heatmap["values"]
    finite = [v for row in values for v in row if finite_or_none(v) is not None]
    low, high = (min(finite), max(finite)) if finite else (0.0, 0.0)
    chosen = {(_cell(y, c["y"]), _cell(x, c["x"])) for c in heatmap.get("chosen", [])}

    def text(i: int, j: int) -> str:
        value = finite_or_none(values[i][j])
        if value is None:
            return EMPTY_CELL + (" ★" if (i, j) in chosen else "")
        rank = 0 if high <= low else min(int((value - low) / (high - low) * len(SHADES)), 3)
        return f"{SHADES[rank]} {value:.2f}" + (" ★" if (i, j) in chosen else "")

    headers = [f"{y['name']} \\ {x['name']}", *_axis_labels(x)]
    rows = [
        [label, *(text(i, j) for j in range(len(values[i])))]
        for i, label in enumerate(_axis_labels(y))
    ]
    return markdown_table(headers, rows)


def plateau_markdown(summary: dict[str, Any]) -> str:
    """The plateau score, each search's, the parameters' importance and the heatmap."""
    plateau = summary.get("plateau") or {}
    if not plateau:
        return f"plateau {NOT_AVAILABLE}"
    folds = ", ".join(f"{f['fold']}: {_ratio(f.get('score'))}" for f in plateau.get("folds", []))
    importance = ", ".join(
        f"{name} {100 * share:.0f} %" for name, share in (plateau.get("importance") or {}).items()
    )
    return "\n".join(
        [
            f"plateau score **{_ratio(plateau.get('score'))}** "
            f"(median of {plateau.get('n_scored', 0)} scored searches; 1 plateau, 0 spike)",
            "",
            f"per search: {folds or '–'}",
            "",
            f"importance ({plateau.get('objective')}): {importance or '–'}",
            "",
            heatmap_markdown(plateau.get("heatmap")),
        ]
    )


def cpcv_markdown(summary: dict[str, Any]) -> str:
    """The distribution of OOS Sharpe over the cpcv paths, and each path's figures."""
    cpcv = summary.get("cpcv")
    if not cpcv:
        return f"cpcv {NOT_AVAILABLE}: a walk-forward study"
    dist = cpcv.get("sharpe_ratio") or {}
    quantiles = ", ".join(
        f"{100 * float(q):g} % {_ratio(v)}" for q, v in (dist.get("quantiles") or {}).items()
    )
    rows = [
        [
            str(p["path"]) + (" (equity)" if p["path"] == cpcv.get("representative_path") else ""),
            _ratio(p.get("sharpe_ratio")),
            _percent(p.get("total_return")),
            _percent(p.get("max_drawdown")),
            f"{finite_or_none(p.get('trade_count')) or 0:.0f}",
        ]
        for p in cpcv.get("paths", [])
    ]
    return "\n".join(
        [
            f"{cpcv.get('n_paths')} paths from {cpcv.get('n_splits')} splits "
            f"(N = {cpcv.get('n_groups')}, k = {cpcv.get('n_test_groups')}, purge "
            f"{cpcv.get('purge_bars')}, embargo {cpcv.get('embargo_bars')} bars): OOS Sharpe "
            f"mean {_ratio(dist.get('mean'))}, std "
            f"{_ratio(dist.get('std'))}, "
            f"{_percent(dist.get('share_below_zero'))} of paths below 0",
            "",
            f"quantiles: {quantiles}",
            "",
            markdown_table(["path", "Sharpe", "return", "max drawdown", "trades"], rows),
        ]
    )


def _count(value: Any) -> str:
    number = finite_or_none(value)
    return "–" if number is None else f"{number:.0f}"


def _deviation(value: Any) -> str:
    """A relative deviation: a percentage, or in scientific notation when below 0.01 %
    (engines that agree differ by rounding, ~1e-12, which a percentage shows as 0.0 %)."""
    number = finite_or_none(value)
    if number is None:
        return "–"
    if number == 0:
        return "0"
    return _percent(number) if number >= 1e-4 else f"{number:.0e}"


def cross_check_markdown(summary: dict[str, Any]) -> str:
    """Each fold's figures on both engines and their deviations, or why there are none."""
    check = summary.get("cross_check")
    if not check:
        return f"engine cross-check {NOT_AVAILABLE}"
    if check.get("unsupported"):
        return f"engine cross-check not run: {check['unsupported']}"
    tolerance = finite_or_none(check.get("tolerance"))
    passed = check.get("passed")
    status = "passed" if passed else "not judged" if passed is None else "FAILED"
    rows = []
    for fold in check.get("folds", []):
        deviation = fold.get("deviation") or {}
        rows.append(
            [
                str(fold.get("fold")),
                f"{_ratio(fold.get('sharpe_v2'))} / {_ratio(fold.get('sharpe_v1'))}",
                f"{_percent(fold.get('return_v2'))} / {_percent(fold.get('return_v1'))}",
                f"{_count(fold.get('trades_v2'))} / {_count(fold.get('trades_v1'))}",
                *(_deviation(deviation.get(k)) for k in ("sharpe", "total_return", "trade_count")),
            ]
        )
    headers = ["fold", "Sharpe v2 / v1", "return v2 / v1", "trades v2 / v1", "Δ Sharpe",
               "Δ return", "Δ trades"]  # fmt: skip
    return "\n".join(
        [
            f"engine cross-check **{status}** against engine {check.get('engine')}: largest "
            f"deviation {_deviation(check.get('max_deviation'))}, tolerance {_percent(tolerance)}",
            "",
            markdown_table(headers, rows),
        ]
    )


def validation_metadata(summary: dict[str, Any]) -> dict[str, Any]:
    """The study asset's validation metadata (one partition's)."""
    boot = summary.get("bootstrap") or {}
    sharpe = boot.get("sharpe_ratio") or {}
    metadata: dict[str, Any] = {
        "scheme": str(summary.get("scheme")),
        "verdict": str(summary.get("verdict")),
        "verdict_reasons": dg.MetadataValue.md(verdict_markdown(summary)),
        "bootstrap": dg.MetadataValue.md(bootstrap_markdown(summary)),
        "oos_sharpe_ci_low": finite_or_none(sharpe.get("low")),
        "oos_sharpe_ci_high": finite_or_none(sharpe.get("high")),
        "probability_of_loss": finite_or_none(boot.get("probability_of_loss")),
        "plateau_score": finite_or_none((summary.get("plateau") or {}).get("score")),
        "plateau": dg.MetadataValue.md(plateau_markdown(summary)),
        "cross_check": dg.MetadataValue.md(cross_check_markdown(summary)),
        "cross_check_max_deviation": finite_or_none(
            (summary.get("cross_check") or {}).get("max_deviation")
        ),
    }
    cpcv = summary.get("cpcv")
    if cpcv:
        distribution = cpcv.get("sharpe_ratio") or {}
        metadata["cpcv_paths"] = dg.MetadataValue.md(cpcv_markdown(summary))
        metadata["cpcv_sharpe_mean"] = finite_or_none(distribution.get("mean"))
        metadata["cpcv_share_below_zero"] = finite_or_none(distribution.get("share_below_zero"))
    return metadata
