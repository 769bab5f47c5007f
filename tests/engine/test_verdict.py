"""The verdict from summaries built to sit on each side of every threshold."""

from __future__ import annotations

import dataclasses

import pytest

from maestro_pipeline.engine.verdict import THRESHOLDS, VERDICTS, Thresholds, judge


def summary(**changes):
    """A study that passes every check; ``changes`` replace single statistics."""
    base = {
        "oos": {"trade_count": 80.0},
        "deflated_sharpe_ratio": 0.99,
        "pbo": 0.05,
        "bootstrap": {
            "confidence": 0.95,
            "probability_of_loss": 0.01,
            "sharpe_ratio": {"estimate": 2.0, "low": 0.8, "high": 3.1},
        },
        "cpcv": {"n_paths": 5, "sharpe_ratio": {"share_below_zero": 0.0}},
        "plateau": {"score": 0.8},
        "wf_efficiency": 0.9,
        "cross_check": cross_check(1e-12),
    }
    base.update(changes)
    return base


def cross_check(worst: float | None, unsupported: str | None = None):
    """An engine cross-check over two windows whose largest deviation is ``worst``."""
    folds = [
        {"fold": k, "deviation": {"sharpe": d, "total_return": d / 2, "trade_count": 0.0}}
        for k, d in enumerate((1e-13, worst or 0.0))
    ]
    return {
        "engine": "v1",
        "tolerance": 0.05,
        "passed": None if worst is None else worst <= 0.05,
        "max_deviation": worst,
        "unsupported": unsupported,
        "folds": [] if worst is None else folds,
        "seconds": 0.1,
    }


def test_every_check_passing_is_robust_and_lists_why():
    result = judge(summary())
    assert result["verdict"] == "robust"
    assert {c["status"] for c in result["checks"]} == {"pass"}
    assert len(result["reasons"]) == 7
    assert any("engine v1 reproduces every OOS window" in r for r in result["reasons"])
    assert result["thresholds"] == dataclasses.asdict(THRESHOLDS)


@pytest.mark.parametrize(
    ("changes", "check"),
    [
        ({"deflated_sharpe_ratio": 0.3}, "deflated_sharpe"),
        ({"pbo": 0.7}, "pbo"),
        ({"bootstrap": {"sharpe_ratio": {"estimate": -0.4, "low": -1.5, "high": 0.6}}},
         "bootstrap_sharpe"),
        ({"cpcv": {"n_paths": 5, "sharpe_ratio": {"share_below_zero": 0.6}}}, "cpcv_paths"),
        ({"wf_efficiency": -0.2}, "wf_efficiency"),
    ],
)  # fmt: skip
def test_one_failing_check_is_overfit_and_named(changes, check):
    result = judge(summary(**changes))
    assert result["verdict"] == "overfit"
    failed = [c["name"] for c in result["checks"] if c["status"] == "fail"]
    assert failed == [check]
    assert result["reasons"][0] == next(c["reason"] for c in result["checks"] if c["name"] == check)


@pytest.mark.parametrize(
    "changes",
    [
        {"deflated_sharpe_ratio": 0.8},
        {"pbo": 0.35},
        {"bootstrap": {"sharpe_ratio": {"estimate": 0.9, "low": -0.2, "high": 2.0}}},
        {"cpcv": {"n_paths": 5, "sharpe_ratio": {"share_below_zero": 0.2}}},
        {"plateau": {"score": 0.05}},  # a spike warns; it never fails on its own
        {"wf_efficiency": 0.3},
    ],
)
def test_a_warning_without_failures_is_fragile(changes):
    result = judge(summary(**changes))
    assert result["verdict"] == "fragile"
    assert len(result["reasons"]) == 1


def test_too_few_trades_or_no_statistics_is_insufficient():
    thin = judge(summary(oos={"trade_count": 19.0}, pbo=0.9))
    assert thin["verdict"] == "insufficient" and "19 OOS trades" in thin["reasons"][0]
    blind = judge(summary(deflated_sharpe_ratio=None, bootstrap={"error": "too few"}))
    assert blind["verdict"] == "insufficient"


def test_statistics_that_could_not_be_computed_are_missing_not_failed():
    result = judge(summary(pbo=None, cpcv=None, plateau={"score": None}, wf_efficiency=None))
    statuses = {c["name"]: c["status"] for c in result["checks"]}
    assert statuses["pbo"] == statuses["plateau"] == statuses["wf_efficiency"] == "missing"
    assert "cpcv_paths" not in statuses  # walk-forward studies have no paths
    assert result["verdict"] == "robust"


def test_thresholds_are_the_one_place_the_boundaries_live():
    strict = Thresholds(dsr_pass=0.999)
    assert judge(summary(), strict)["verdict"] == "fragile"
    at_boundary = summary(deflated_sharpe_ratio=THRESHOLDS.dsr_pass, pbo=THRESHOLDS.pbo_pass)
    assert judge(at_boundary)["verdict"] == "robust"
    assert set(VERDICTS) == {"robust", "fragile", "overfit", "insufficient"}


def test_engines_that_disagree_make_any_study_insufficient_and_say_where():
    # However good the statistics, figures one engine cannot reproduce prove nothing.
    result = judge(summary(cross_check=cross_check(0.12)))
    assert result["verdict"] == "insufficient"
    (reason,) = result["reasons"]
    assert "engine v1 disagrees with the study on 1 of 2 OOS windows" in reason
    assert "fold 1: sharpe off by 12.0% > 5%" in reason
    statuses = {c["name"]: c["status"] for c in result["checks"]}
    assert statuses["engine_cross_check"] == "fail"
    # An otherwise overfit study too: its failing checks rest on the same doubtful figures.
    overfit = judge(summary(pbo=0.9, cross_check=cross_check(0.12)))
    assert overfit["verdict"] == "insufficient"


def test_a_cross_check_at_the_tolerance_passes():
    at_boundary = summary(cross_check=cross_check(THRESHOLDS.cross_check_tolerance))
    assert judge(at_boundary)["verdict"] == "robust"


def test_an_unsupported_cross_check_is_missing_and_says_why():
    why = "setting 'trailing_stop' is not supported by engine v1: ..."
    result = judge(summary(cross_check=cross_check(None, unsupported=why)))
    check = next(c for c in result["checks"] if c["name"] == "engine_cross_check")
    assert check["status"] == "missing"
    assert check["reason"] == f"engine cross-check not run: {why}"
    assert result["verdict"] == "robust"  # missing checks do not count either way
