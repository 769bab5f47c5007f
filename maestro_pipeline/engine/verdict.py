"""A study's verdict: robust, fragile, overfit or insufficient, with the reasons.

Every threshold lives in ``Thresholds`` (the defaults are ``THRESHOLDS``); the README's
"Verdict" section explains them. Each check reads one statistic of the study summary and
rates it ``pass``, ``warn`` or ``fail`` (``missing`` when the statistic could not be
computed):

=================  =========================================  ==============  ==============
check              statistic                                  pass            fail
=================  =========================================  ==============  ==============
deflated_sharpe    ``deflated_sharpe_ratio``                  >= 0.95         < 0.5
pbo                ``pbo``                                    <= 0.3          > 0.5
bootstrap_sharpe   ``bootstrap.sharpe_ratio`` (95 % interval)  low > 0         estimate <= 0
cpcv_paths         ``cpcv.sharpe_ratio.share_below_zero``     <= 0.1          >= 0.5
plateau            ``plateau.score``                          >= 0.3          (never fails)
wf_efficiency      ``wf_efficiency`` (median)                 >= 0.5          <= 0
engine_cross_check ``cross_check.max_deviation``              <= 0.05         > 0.05
=================  =========================================  ==============  ==============

Between pass and fail a check warns. The verdict, in this order:

* ``insufficient``: fewer than ``min_oos_trades`` OOS trades, or the engine cross-check
  failed (the event-driven engine does not reproduce the study's OOS trading, so no figure
  of the study can be trusted, favourable or not), or neither the DSR nor the bootstrap
  could be computed: too little evidence to judge either way.
* ``overfit``: at least one check fails: the out-of-sample record does not hold up to what
  the search alone would produce.
* ``robust``: every check that could be computed passes.
* ``fragile``: the rest: nothing fails, but something only warns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

Verdict = Literal["robust", "fragile", "overfit", "insufficient"]
VERDICTS: tuple[str, ...] = ("robust", "fragile", "overfit", "insufficient")


@dataclass(frozen=True)
class Thresholds:
    """Where each check passes and fails (see the module docstring)."""

    # Fewer OOS trades than this: the record is too thin to judge.
    min_oos_trades: int = 20
    # DSR: the paper's 95 % confidence passes; below a coin flip, chance explains the Sharpe.
    dsr_pass: float = 0.95
    dsr_fail: float = 0.5
    # PBO: the in-sample winner lands below the OOS median in at most 30 % of the CSCV
    # combinations to pass, in more than half of them to fail. A real edge found by a
    # 100-trial search has many near-equal neighbours whose OOS ranks swap by chance, which
    # keeps its PBO off zero (0.2-0.3 on a planted edge).
    pbo_pass: float = 0.3
    pbo_fail: float = 0.5
    # Bootstrap: the Sharpe interval's lower bound above this passes; an observed OOS Sharpe
    # at or below it fails.
    sharpe_floor: float = 0.0
    # CPCV: share of backtest paths with a negative OOS Sharpe.
    cpcv_below_zero_pass: float = 0.1
    cpcv_below_zero_fail: float = 0.5
    # Plateau score (0 spike .. 1 plateau): a spike warns, it does not fail on its own. Per
    # search the score is noisy (100 trials leave a handful of neighbours); on the sample's
    # real studies and a planted edge the median search keeps 0.35-0.6 of the lead.
    plateau_pass: float = 0.3
    # Walk-forward efficiency (median OOS / IS annualized return).
    wfe_pass: float = 0.5
    wfe_fail: float = 0.0
    # Engine cross-check: largest relative deviation of OOS Sharpe, return and trade count
    # between the two engines over the study's searches (``walk_forward.cross_check``). The
    # engines agree to ~1e-11 when they simulate the same convention; 5 % is the agreement
    # the event-driven and vectorized engines were first required to reach.
    cross_check_tolerance: float = 0.05


THRESHOLDS = Thresholds()


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _check(
    name: str, value: float | None, status: str, reason: str, **figures: Any
) -> dict[str, Any]:
    return {"name": name, "value": value, "status": status, "reason": reason, **figures}


def _checks(summary: Mapping[str, Any], t: Thresholds) -> list[dict[str, Any]]:
    checks = []

    dsr = _number(summary.get("deflated_sharpe_ratio"))
    if dsr is None:
        checks.append(_check("deflated_sharpe", None, "missing", "DSR could not be computed"))
    else:
        status = "pass" if dsr >= t.dsr_pass else "fail" if dsr < t.dsr_fail else "warn"
        text = {
            "pass": f"DSR {dsr:.2f} >= {t.dsr_pass}: the OOS Sharpe beats what the luckiest "
            "trial would show by chance",
            "warn": f"DSR {dsr:.2f} below {t.dsr_pass}: the OOS Sharpe is not clearly above "
            "what selection alone explains",
            "fail": f"DSR {dsr:.2f} < {t.dsr_fail}: selection among the trials explains the "
            "OOS Sharpe",
        }[status]
        checks.append(_check("deflated_sharpe", dsr, status, text))

    pbo = _number(summary.get("pbo"))
    if pbo is None:
        checks.append(_check("pbo", None, "missing", "PBO could not be computed"))
    else:
        status = "pass" if pbo <= t.pbo_pass else "fail" if pbo > t.pbo_fail else "warn"
        text = {
            "pass": f"PBO {pbo:.2f} <= {t.pbo_pass}: in-sample winners mostly stay good",
            "warn": f"PBO {pbo:.2f} above {t.pbo_pass}: in-sample winners often fall below "
            "the median out of sample",
            "fail": f"PBO {pbo:.2f} > {t.pbo_fail}: the in-sample winner is more likely than "
            "not below the median out of sample",
        }[status]
        checks.append(_check("pbo", pbo, status, text))

    boot = summary.get("bootstrap") or {}
    sharpe = boot.get("sharpe_ratio") if isinstance(boot, Mapping) else None
    if not isinstance(sharpe, Mapping) or _number(sharpe.get("low")) is None:
        checks.append(_check("bootstrap_sharpe", None, "missing", "no bootstrap interval"))
    else:
        low, high = float(sharpe["low"]), _number(sharpe.get("high"))
        estimate = _number(sharpe.get("estimate")) or 0.0
        level = f"{100 * float(boot.get('confidence', 0.95)):.0f} %"
        interval = f"[{low:.2f}, {high:.2f}]" if high is not None else f"from {low:.2f}"
        if low > t.sharpe_floor:
            status, text = "pass", f"OOS Sharpe {level} interval {interval} is above 0"
        elif estimate <= t.sharpe_floor:
            status, text = "fail", f"OOS Sharpe {estimate:.2f} is not positive ({interval})"
        else:
            status, text = "warn", f"OOS Sharpe {level} interval {interval} includes 0"
        loss = _number(boot.get("probability_of_loss"))
        if loss is not None:
            text += f"; probability of a loss over the OOS span {loss:.0%}"
        checks.append(_check("bootstrap_sharpe", low, status, text))

    cpcv = summary.get("cpcv")
    if isinstance(cpcv, Mapping):
        share = _number((cpcv.get("sharpe_ratio") or {}).get("share_below_zero"))
        if share is None:
            checks.append(_check("cpcv_paths", None, "missing", "no cpcv path distribution"))
        else:
            status = (
                "pass" if share <= t.cpcv_below_zero_pass
                else "fail" if share >= t.cpcv_below_zero_fail
                else "warn"
            )  # fmt: skip
            text = f"{share:.0%} of {cpcv.get('n_paths')} cpcv paths have a negative OOS Sharpe"
            checks.append(_check("cpcv_paths", share, status, text))

    plateau = _number((summary.get("plateau") or {}).get("score"))
    if plateau is None:
        checks.append(_check("plateau", None, "missing", "no plateau score"))
    else:
        status = "pass" if plateau >= t.plateau_pass else "warn"
        text = (
            f"plateau score {plateau:.2f}: neighbouring parameters keep most of the score"
            if status == "pass"
            else f"plateau score {plateau:.2f} < {t.plateau_pass}: the chosen parameters sit "
            "on a spike of the objective"
        )
        checks.append(_check("plateau", plateau, status, text))

    wfe = _number(summary.get("wf_efficiency"))
    if wfe is None:
        checks.append(_check("wf_efficiency", None, "missing", "no fold gained in-sample"))
    else:
        status = "pass" if wfe >= t.wfe_pass else "fail" if wfe <= t.wfe_fail else "warn"
        text = {
            "pass": f"WF efficiency {wfe:.2f} >= {t.wfe_pass}: OOS keeps much of the IS return",
            "warn": f"WF efficiency {wfe:.2f} below {t.wfe_pass}: OOS keeps little of the IS "
            "return",
            "fail": f"WF efficiency {wfe:.2f} <= {t.wfe_fail}: OOS loses what IS gained",
        }[status]
        checks.append(_check("wf_efficiency", wfe, status, text))
    checks.append(_cross_check(summary.get("cross_check"), t))
    return checks


def _cross_check(report: Any, t: Thresholds) -> dict[str, Any]:
    """The engine cross-check: both engines must reproduce the study's OOS trading."""
    if not isinstance(report, Mapping):
        return _check("engine_cross_check", None, "missing", "no engine cross-check")
    engine = report.get("engine", "v1")
    worst = _number(report.get("max_deviation"))
    if report.get("unsupported"):
        return _check(
            "engine_cross_check", None, "missing",
            f"engine cross-check not run: {report['unsupported']}",
        )  # fmt: skip
    if worst is None:
        return _check("engine_cross_check", None, "missing", "engine cross-check not run")
    tolerance = t.cross_check_tolerance
    if worst <= tolerance:
        return _check(
            "engine_cross_check", worst, "pass",
            f"engine {engine} reproduces every OOS window (largest deviation {worst:.1e} "
            f"<= {tolerance:.0%})",
        )  # fmt: skip
    folds = report.get("folds") or []
    bad = [f for f in folds if max((f.get("deviation") or {}).values(), default=0) > tolerance]
    first = bad[0] if bad else {}
    metric, value = max((first.get("deviation") or {"?": worst}).items(), key=lambda kv: kv[1])
    return _check(
        "engine_cross_check", worst, "fail",
        f"engine {engine} disagrees with the study on {len(bad)} of {len(folds)} OOS windows "
        f"(fold {first.get('fold')}: {metric} off by {value:.1%} > {tolerance:.0%}): the "
        "backtest itself is in doubt",
    )  # fmt: skip


def judge(summary: Mapping[str, Any], thresholds: Thresholds = THRESHOLDS) -> dict[str, Any]:
    """``{"verdict", "reasons", "checks", "thresholds"}`` for a study summary."""
    checks = _checks(summary, thresholds)
    by_name = {c["name"]: c for c in checks}
    trades = _number((summary.get("oos") or summary).get("trade_count")) or 0.0
    failed = [c for c in checks if c["status"] == "fail"]
    warned = [c for c in checks if c["status"] == "warn"]
    verdict: Verdict
    if trades < thresholds.min_oos_trades:
        verdict = "insufficient"
        reasons = [f"{trades:.0f} OOS trades, fewer than {thresholds.min_oos_trades}"]
        if by_name["engine_cross_check"]["status"] == "fail":
            reasons.append(by_name["engine_cross_check"]["reason"])
    elif by_name["engine_cross_check"]["status"] == "fail":
        verdict = "insufficient"
        reasons = [by_name["engine_cross_check"]["reason"]]
    elif (
        by_name["deflated_sharpe"]["status"] == by_name["bootstrap_sharpe"]["status"] == ("missing")
    ):
        verdict = "insufficient"
        reasons = ["neither the DSR nor the bootstrap interval could be computed"]
    elif failed:
        verdict = "overfit"
        reasons = [c["reason"] for c in failed + warned]
    elif warned:
        verdict = "fragile"
        reasons = [c["reason"] for c in warned]
    else:
        verdict = "robust"
        reasons = [c["reason"] for c in checks if c["status"] == "pass"]
    return {
        "verdict": verdict,
        "reasons": reasons,
        "checks": checks,
        "thresholds": asdict(thresholds),
    }
