"""gateway.http.admin routes: every method on every `/admin/*` path is behind the admin key;
a known path with another method is 405 (with `Allow`), an unknown path 404, both audited; the
key in several headers is refused; a handler's bug is a JSON 500, logged and audited."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.testclient import TestClient

from gateway.http.admin import AdminAPI
from gateway.observability.metrics import Metrics
from gateway.pipeline.services import Services
from gateway.reload import Reloader
from gateway.scrub import Secrets

ADMIN = {"authorization": "Bearer admin-routes-key"}


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def client_and_trail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry: CollectorRegistry
) -> tuple[TestClient, list[dict[str, object]]]:
    monkeypatch.setenv("ADMIN_ROUTES_KEY", "admin-routes-key")
    config = SimpleNamespace(admin=SimpleNamespace(key_env="ADMIN_ROUTES_KEY"))
    trail: list[dict[str, object]] = []

    def write(who: str, action: str, **details: object) -> None:
        trail.append({"who": who, "action": action, **details})

    def read(since: float) -> list[dict[str, object]]:
        raise IsADirectoryError(21, "Is a directory")  # an audit_path swapped for a directory

    metrics = Metrics(registry)
    keys = {"app-key-secret": SimpleNamespace(id="app")}  # a gateway key, by its secret
    runtime = SimpleNamespace(
        config=config, secrets=Secrets(["admin-routes-key"]), find_key=keys.get
    )
    services = SimpleNamespace(runtime=runtime, metrics=metrics)
    reloader = SimpleNamespace(audit=SimpleNamespace(write=write, read=read))
    api = AdminAPI(cast(Services, services), cast(Reloader, reloader))
    return TestClient(Starlette(routes=api.routes())), trail


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "PROPFIND"])
def test_any_method_without_the_key_is_401(
    client_and_trail: tuple[TestClient, list[dict[str, object]]], method: str
) -> None:
    client, trail = client_and_trail
    for path in ("/admin/config", "/admin/nowhere"):
        assert client.request(method, path).status_code == 401
    assert trail == []


def test_a_known_path_with_another_method_is_405_and_audited(
    client_and_trail: tuple[TestClient, list[dict[str, object]]],
) -> None:
    client, trail = client_and_trail
    answer = client.delete("/admin/config", headers=ADMIN)
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, HEAD"
    assert answer.json()["error"]["code"] == "method_not_allowed"
    reload = client.get("/admin/reload", headers=ADMIN)
    assert (reload.status_code, reload.headers["allow"]) == (405, "POST")
    assert [(line["method"], line["status"]) for line in trail] == [("DELETE", 405), ("GET", 405)]


def test_an_unknown_path_is_404_for_every_method(
    client_and_trail: tuple[TestClient, list[dict[str, object]]],
) -> None:
    client, _ = client_and_trail
    for method in ("GET", "POST", "PROPFIND"):
        answer = client.request(method, "/admin/nowhere", headers=ADMIN)
        assert (answer.status_code, answer.json()["error"]["code"]) == (404, "unknown_route")


@pytest.mark.parametrize("order", [("wrong", "admin-routes-key"), ("admin-routes-key", "wrong")])
def test_the_admin_key_in_several_headers_is_401_whichever_comes_first(
    client_and_trail: tuple[TestClient, list[dict[str, object]]], order: tuple[str, str]
) -> None:
    """A proxy in front may have checked either line: the gateway takes neither (as on /v1)."""
    client, trail = client_and_trail
    headers = [("authorization", f"Bearer {token}") for token in order]
    answer = client.get("/admin/config", headers=headers)
    assert (answer.status_code, answer.json()["error"]["code"]) == (401, "invalid_api_key")
    assert "several headers" in answer.json()["error"]["message"]
    assert trail == []


def test_a_failing_handler_answers_json_500_logged_and_audited(
    client_and_trail: tuple[TestClient, list[dict[str, object]]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Before, the exception reached Starlette: a text/plain 'Internal Server Error' page, no
    log line of the gateway's and no audit line for the admin's call."""
    client, trail = client_and_trail
    answer = client.get("/admin/audit", headers=ADMIN)
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"]["code"] == "internal_error"
    assert "Is a directory" not in answer.text  # the cause goes to the log, not the client
    assert any("admin GET /admin/audit failed" in r.getMessage() for r in caplog.records)
    assert [(line["target"], line["status"]) for line in trail] == [("/admin/audit", 500)]


def test_refused_calls_are_counted_and_logged_not_audited(
    client_and_trail: tuple[TestClient, list[dict[str, object]]],
    registry: CollectorRegistry,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before, a refused call left nothing: no audit line, no count, no log line, so a probe
    of the admin key went unseen. The lines are one a second per reason at most."""
    client, trail = client_and_trail
    client.get("/admin/config")
    for _ in range(3):
        client.get("/admin/config", headers={"authorization": "Bearer guess"})
    client.post("/admin/reload", headers=[("authorization", "Bearer a"), ("authorization", "b")])

    def count(reason: str) -> float | None:
        return registry.get_sample_value("gateway_admin_refusals_total", {"reason": reason})

    assert (count("missing_api_key"), count("invalid_api_key"), count("admin_disabled")) == (
        1.0,
        4.0,
        0.0,
    )
    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.admin"]
    assert lines == [
        "admin API refused GET '/admin/config' from testclient: 401 missing_api_key",
        "admin API refused GET '/admin/config' from testclient: 401 invalid_api_key",
    ]
    assert "guess" not in caplog.text
    assert trail == []
    monkeypatch.delenv("ADMIN_ROUTES_KEY")  # the API off: a probe still counts
    assert client.get("/admin/config", headers=ADMIN).status_code == 404
    assert count("admin_disabled") == 1.0


def test_the_trail_never_keeps_a_secret_pasted_into_the_url(
    client_and_trail: tuple[TestClient, list[dict[str, object]]],
) -> None:
    """Before, the query and path went to the trail as they came: the admin key given as
    `?token=` too, or a gateway key's secret given to `?key=` instead of its id, was written
    to logs/audit.jsonl in clear."""
    client, trail = client_and_trail
    query = "token=admin-routes-key&key=app-key-secret&team=a%26b&since=1h"
    client.get(f"/admin/admin-routes-key?{query}", headers=ADMIN)
    [line] = trail
    assert line["target"] == "/admin/****"
    assert line["query"] == "token=****&key=****&team=a%26b&since=1h"
    client.get("/admin/config/nowhere", headers=ADMIN)
    assert (trail[1]["target"], trail[1]["query"]) == ("/admin/config/nowhere", None)


def test_a_refused_path_cannot_forge_a_log_line(
    client_and_trail: tuple[TestClient, list[dict[str, object]]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The path is decoded: `%0D` put a carriage return in the log, which a terminal shows as
    the text after it written over the line (`%0A` matches no admin route)."""
    client, _ = client_and_trail
    client.get("/admin/x%0D2026-01-01 INFO admin login ok" + "a" * 5000)
    [line] = [r.getMessage() for r in caplog.records if r.name == "gateway.admin"]
    assert "\r" not in line
    assert len(line) < 300
