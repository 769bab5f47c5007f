"""The built chart UI at `/` (SPA fallback) and configurable CORS origins."""

from __future__ import annotations

from api.main import create_app
from tests.api.conftest import TestClient, api_config


def test_built_frontend_is_served_with_spa_fallback(published, tmp_path):
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><div id=root></div>")
    (dist / "assets" / "app.js").write_text("console.log('maestro')")
    (tmp_path / "secret.txt").write_text("outside dist")
    app = create_app(published, api_config(tmp_path, frontend_dist=dist))
    with TestClient(app) as client:
        index = client.get("/")
        assert index.status_code == 200 and "id=root" in index.text
        script = client.get("/assets/app.js")
        assert script.text == "console.log('maestro')"
        assert "javascript" in script.headers["content-type"]
        assert "id=root" in client.get("/studies/ema_cross.BTC-USD.1h").text  # client route
        assert "outside dist" not in client.get("/..%2Fsecret.txt").text
        assert "outside dist" not in client.get("/assets/..%2F..%2Fsecret.txt").text
        assert client.get("/api/v2/nope").status_code == 404
        assert client.get("/api/v2/health").json()["status"] == "ok"


def test_no_frontend_means_no_route_at_root(client):
    assert client.get("/").status_code == 404


def test_cors_origins_are_configurable(published, tmp_path):
    origin = "http://localhost:5173"
    app = create_app(published, api_config(tmp_path, cors_origins=(origin,)))
    with TestClient(app) as client:
        allowed = client.get("/api/v2/health", headers={"Origin": origin})
        assert allowed.headers["access-control-allow-origin"] == origin
        other = client.get("/api/v2/health", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        preflight = client.options(
            "/api/v2/optimization",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 200
