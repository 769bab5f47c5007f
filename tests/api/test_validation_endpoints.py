"""A study's validation artifacts through the API: the verdict, the bootstrap, the cpcv paths,
the plateau and the engine cross-check, each equal to what the pipeline published, and the
leaderboard filtered by verdict."""

from __future__ import annotations

import shutil
from dataclasses import asdict
from datetime import datetime

import dagster as dg
import pytest

from api.main import create_app
from maestro_pipeline.defs.resources import build_resources
from maestro_pipeline.defs.studies import walk_forward_study
from maestro_pipeline.engine.verdict import THRESHOLDS
from maestro_pipeline.keys import StudyKey
from maestro_pipeline.settings import Settings
from maestro_pipeline.storage.studies import REQUIRED_FRAMES, StudyStore
from tests.api.conftest import STUDY_ID, TestClient, api_config, materialize_market_data

API = "/api/v2"
KEY = StudyKey("ema_cross", "BTC/USD", "1h")
CPCV_KEY = StudyKey("rsi", "BTC/USD", "1h")
TINY_CPCV = {"scheme": "cpcv", "n_groups": 4, "n_test_groups": 2, "n_trials": 8, "min_trades": 1}


@pytest.fixture(scope="module")
def summary(published) -> dict:
    return StudyStore(published.data_dir).read_summary(KEY)


@pytest.fixture(scope="module")
def cpcv_settings(tmp_path_factory) -> Settings:
    """Four months of BTC/USD bars and one small cpcv study, materialized by Dagster."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("cpcv_data"))
    materialize_market_data(settings)
    with dg.DagsterInstance.ephemeral() as instance:
        assert dg.materialize(
            [walk_forward_study],
            partition_key=CPCV_KEY.partition_key,
            resources=build_resources(settings),
            instance=instance,
            run_config={"ops": {"walk_forward_study": {"config": TINY_CPCV}}},
        ).success
    return settings


@pytest.fixture(scope="module")
def cpcv_client(cpcv_settings, tmp_path_factory):
    app = create_app(cpcv_settings, api_config(tmp_path_factory.mktemp("cpcv_api")))
    with TestClient(app) as client:
        yield client


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def test_validation_is_the_published_verdict_with_reasons_checks_and_thresholds(client, summary):
    body = client.get(f"{API}/optimization/{STUDY_ID}/validation").json()
    assert body["verdict"] == summary["verdict"]
    assert body["scheme"] == "walk_forward"
    assert body["reasons"] == summary["verdict_details"]["reasons"] and body["reasons"]
    assert [c["name"] for c in body["checks"]] == [
        c["name"] for c in summary["verdict_details"]["checks"]
    ]
    assert {c["status"] for c in body["checks"]} <= {"pass", "warn", "fail", "missing"}
    assert body["thresholds"] == asdict(THRESHOLDS)
    assert body["oos_trade_count"] == summary["oos"]["trade_count"]


def test_bootstrap_gives_the_intervals_the_fan_and_the_trade_order_drawdowns(client, summary):
    body = client.get(f"{API}/optimization/{STUDY_ID}/bootstrap").json()
    boot = summary["bootstrap"]
    for name in ("sharpe_ratio", "cagr", "max_drawdown", "total_return"):
        assert body[name]["low"] == pytest.approx(boot[name]["low"])
        assert body[name]["high"] == pytest.approx(boot[name]["high"])
        assert body[name]["low"] <= body[name]["high"]
    assert body["probability_of_loss"] == pytest.approx(boot["probability_of_loss"])
    fan = body["fan"]
    assert fan["timestamp"] == [_ms(t) for t in boot["fan"]["timestamps"]]
    assert set(fan["quantiles"]) == set(boot["fan"]["quantiles"])
    assert all(len(v) == len(fan["timestamp"]) for v in fan["quantiles"].values())
    # The fan's bars are bars of the published OOS equity.
    equity = client.get(f"{API}/optimization/{STUDY_ID}/equity").json()
    assert [equity["timestamp"][i] for i in fan["index"]] == fan["timestamp"]
    trades = body["trade_monte_carlo"]
    assert trades["n_trades"] == summary["trade_monte_carlo"]["n_trades"]


def test_plateau_gives_the_score_and_the_heatmap(client, summary):
    body = client.get(f"{API}/optimization/{STUDY_ID}/plateau").json()
    plateau = summary["plateau"]
    assert body["score"] == plateau["score"]
    heatmap = body["heatmap"]
    assert heatmap["values"] == plateau["heatmap"]["values"]
    assert {heatmap["x"]["name"], heatmap["y"]["name"]} <= {"fast", "slow", "ma_type"}
    assert len(heatmap["values"]) == len(heatmap["counts"])
    assert [c["fold"] for c in heatmap["chosen"]] == [0, 1]


def test_a_walk_forward_study_has_no_cpcv_paths(client):
    response = client.get(f"{API}/optimization/{STUDY_ID}/cpcv")
    assert response.status_code == 404
    assert "walk-forward study" in response.json()["detail"]
    assert "scheme cpcv" in response.json()["detail"]


def test_every_study_has_its_cross_check_served_as_published(client, summary):
    response = client.get(f"{API}/optimization/{STUDY_ID}/cross-check")
    assert response.status_code == 200
    served, recorded = response.json(), summary["cross_check"]
    assert served["engine"] == recorded["engine"] == "v1"
    assert served["passed"] is recorded["passed"] is True
    assert [f["fold"] for f in served["folds"]] == [f["fold"] for f in recorded["folds"]]
    assert served["folds"][0]["trades_v1"] == recorded["folds"][0]["trades_v2"]


def test_a_cross_check_in_the_summary_is_served_as_recorded(published, tmp_path):
    """The cross-check's documented shape, published with a copy of the study."""
    store = StudyStore(tmp_path / "data")
    source = StudyStore(published.data_dir)
    frames = {name: source.read_frame(KEY, name) for name in REQUIRED_FRAMES}
    check = {
        "engine": "v1",
        "tolerance": 0.05,
        "passed": False,
        "max_deviation": 0.08,
        "unsupported": None,
        "folds": [
            {
                "fold": 0,
                "sharpe_v2": 1.2,
                "sharpe_v1": 1.1,
                "return_v2": 0.1,
                "return_v1": 0.09,
                "trades_v2": 10,
                "trades_v1": 11,
                "deviation": {"sharpe": 0.08, "total_return": 0.01, "trade_count": 0.1},
            }
        ],
        "seconds": 0.5,
    }
    store.publish(KEY, frames, {**source.read_summary(KEY), "cross_check": check})
    app = create_app(Settings(data_dir=tmp_path / "data"), api_config(tmp_path))
    with TestClient(app) as client:
        body = client.get(f"{API}/optimization/{STUDY_ID}/cross-check").json()
    assert body["passed"] is False and body["max_deviation"] == 0.08
    assert body["folds"][0]["deviation"] == check["folds"][0]["deviation"]
    assert body["folds"][0]["trades_v1"] == 11


# What a summary published before the validation existed lacked.
VALIDATION_KEYS = (
    "bootstrap",
    "plateau",
    "cross_check",
    "verdict",
    "verdict_details",
    "cpcv",
    "scheme",
)


def test_a_study_published_before_validation_gets_404s_saying_to_rerun_it(published, tmp_path):
    store = StudyStore(tmp_path / "data")
    source = StudyStore(published.data_dir)
    frames = {name: source.read_frame(KEY, name) for name in REQUIRED_FRAMES}
    old = {k: v for k, v in source.read_summary(KEY).items() if k not in VALIDATION_KEYS}
    store.publish(KEY, frames, old)
    app = create_app(Settings(data_dir=tmp_path / "data"), api_config(tmp_path))
    with TestClient(app) as client:
        for artifact in ("validation", "bootstrap", "plateau", "cross-check", "cpcv"):
            response = client.get(f"{API}/optimization/{STUDY_ID}/{artifact}")
            assert response.status_code == 404, artifact
            detail = response.json()["detail"]
            assert STUDY_ID in detail and ("re-run" in detail or "scheme cpcv" in detail)
        listed = client.get(f"{API}/optimization").json()["studies"][0]
        assert listed["verdict"] is None and listed["scheme"] == "walk_forward"


@pytest.mark.parametrize("artifact", ["validation", "bootstrap", "cpcv", "plateau", "cross-check"])
def test_unknown_and_unmaterialized_studies(client, artifact):
    unknown = client.get(f"{API}/optimization/no_such_rule.BTC-USD.1h/{artifact}")
    assert unknown.status_code == 404 and unknown.json()["detail"][0]["loc"] == ["path", "tid"]
    missing = client.get(f"{API}/optimization/macd.BTC-USD.1h/{artifact}")
    assert missing.status_code == 404
    assert "not materialized yet" in missing.json()["detail"]
    assert "walk_forward_study partition 'BTC/USD@1h|macd'" in missing.json()["detail"]
    bad = client.get(f"{API}/optimization/not-an-id/{artifact}")
    assert bad.status_code == 422


def test_leaderboard_and_study_list_carry_the_verdict_and_filter_by_it(client, summary):
    verdict = summary["verdict"]
    board = client.get(f"{API}/leaderboard", params={"verdict": verdict}).json()
    assert [row["study_id"] for row in board["rows"]] == [STUDY_ID]
    assert board["rows"][0]["verdict"] == verdict
    others = [v for v in ("robust", "fragile", "overfit", "insufficient") if v != verdict]
    assert client.get(f"{API}/leaderboard", params={"verdict": others}).json()["count"] == 0
    both = client.get(f"{API}/leaderboard", params={"verdict": [others[0], verdict]}).json()
    assert both["count"] == 1
    bad = client.get(f"{API}/leaderboard", params={"verdict": "great"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][:2] == ["query", "verdict"]
    listed = client.get(f"{API}/optimization").json()["studies"][0]
    assert listed["verdict"] == verdict and listed["scheme"] == "walk_forward"
    assert client.get(f"{API}/optimization/{STUDY_ID}").json()["verdict"] == verdict


def test_a_leaderboard_written_before_verdicts_still_answers(published, tmp_path):
    from maestro_pipeline.storage.reports import ReportStore

    board = ReportStore(published.data_dir).read_leaderboard().drop("verdict")
    ReportStore(tmp_path / "data").write_leaderboard(board)
    app = create_app(Settings(data_dir=tmp_path / "data"), api_config(tmp_path))
    with TestClient(app) as client:
        rows = client.get(f"{API}/leaderboard").json()["rows"]
        assert rows[0]["verdict"] is None
        assert client.get(f"{API}/leaderboard", params={"verdict": "robust"}).json()["count"] == 0


def test_cpcv_gives_the_path_distribution_and_every_path_equity(cpcv_client, cpcv_settings):
    store = StudyStore(cpcv_settings.data_dir)
    summary = store.read_summary(CPCV_KEY)
    paths = store.read_frame(CPCV_KEY, "paths")
    body = cpcv_client.get(f"{API}/optimization/{CPCV_KEY.study_id}/cpcv").json()
    assert (body["n_groups"], body["n_test_groups"], body["n_splits"], body["n_paths"]) == (
        4,
        2,
        6,
        3,
    )
    assert body["sharpe_ratio"] == summary["cpcv"]["sharpe_ratio"]
    assert [p["sharpe_ratio"] for p in body["paths"]] == [
        p["sharpe_ratio"] for p in summary["cpcv"]["paths"]
    ]
    equity = body["equity"]
    bars = paths.height // 3
    assert equity["count"] == equity["bars"] == bars == len(equity["timestamp"])
    assert [len(e) for e in equity["equity"]] == [bars] * 3
    # The study's equity is the representative path's.
    study_equity = cpcv_client.get(f"{API}/optimization/{CPCV_KEY.study_id}/equity").json()
    assert equity["equity"][body["representative_path"]] == study_equity["equity"]
    assert equity["timestamp"] == study_equity["timestamp"]
    groups = body["groups"]
    assert groups[0]["start"] == equity["timestamp"][0]
    assert groups[-1]["end"] == equity["timestamp"][-1]
    assert all(g["start"] < g["end"] for g in groups)


def test_cpcv_thins_the_path_equity_on_request(cpcv_client):
    full = cpcv_client.get(f"{API}/optimization/{CPCV_KEY.study_id}/cpcv").json()["equity"]
    thin = cpcv_client.get(
        f"{API}/optimization/{CPCV_KEY.study_id}/cpcv", params={"points": 100}
    ).json()["equity"]
    assert thin["count"] == 100 and thin["bars"] == full["bars"]
    assert thin["timestamp"][0] == full["timestamp"][0]
    assert thin["timestamp"][-1] == full["timestamp"][-1]
    assert thin["equity"][1][-1] == full["equity"][1][-1]
    too_few = cpcv_client.get(f"{API}/optimization/{CPCV_KEY.study_id}/cpcv", params={"points": 1})
    assert too_few.status_code == 422 and too_few.json()["detail"][0]["loc"] == ["query", "points"]


def test_cpcv_validation_judges_the_paths(cpcv_client, cpcv_settings):
    summary = StudyStore(cpcv_settings.data_dir).read_summary(CPCV_KEY)
    body = cpcv_client.get(f"{API}/optimization/{CPCV_KEY.study_id}/validation").json()
    assert body["scheme"] == "cpcv" and body["verdict"] == summary["verdict"]
    paths_check = next(c for c in body["checks"] if c["name"] == "cpcv_paths")
    assert paths_check["value"] == summary["cpcv"]["sharpe_ratio"]["share_below_zero"]
    listed = cpcv_client.get(f"{API}/optimization").json()["studies"][0]
    assert listed["scheme"] == "cpcv"


def test_a_cpcv_version_without_path_equity_still_answers(cpcv_settings, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(cpcv_settings.data_dir / "studies", data / "studies")
    folder = StudyStore(data).current_dir(CPCV_KEY)
    (folder / "paths.parquet").unlink()
    app = create_app(Settings(data_dir=data), api_config(tmp_path))
    with TestClient(app) as client:
        body = client.get(f"{API}/optimization/{CPCV_KEY.study_id}/cpcv").json()
    assert body["equity"] is None and body["n_paths"] == 3
    assert body["groups"][0]["start"] is None


def test_every_artifact_endpoint_is_documented(client):
    paths = client.get(f"{API}/openapi.json").json()["paths"]
    for artifact, model in [
        ("validation", "Validation"),
        ("bootstrap", "Bootstrap"),
        ("cpcv", "Cpcv"),
        ("plateau", "Plateau"),
        ("cross-check", "CrossCheck"),
    ]:
        get = paths[f"{API}/optimization/{{tid}}/{artifact}"]["get"]
        assert get["description"]
        schema = get["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith(f"/{model}")
        assert "404" in get["responses"]
    verdict = paths[f"{API}/leaderboard"]["get"]["parameters"]
    assert any(p["name"] == "verdict" for p in verdict)
