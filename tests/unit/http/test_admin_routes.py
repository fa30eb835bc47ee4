"""gateway.http.admin routes: every method on every `/admin/*` path is behind the admin key;
a known path with another method is 405 (with `Allow`), an unknown path 404, both audited; the
key in several headers is refused."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from gateway.http.admin import AdminAPI
from gateway.pipeline.services import Services
from gateway.reload import Reloader

ADMIN = {"authorization": "Bearer admin-routes-key"}


@pytest.fixture
def client_and_trail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[TestClient, list[dict[str, object]]]:
    monkeypatch.setenv("ADMIN_ROUTES_KEY", "admin-routes-key")
    config = SimpleNamespace(admin=SimpleNamespace(key_env="ADMIN_ROUTES_KEY"))
    trail: list[dict[str, object]] = []

    def write(who: str, action: str, **details: object) -> None:
        trail.append({"who": who, "action": action, **details})

    services = SimpleNamespace(runtime=SimpleNamespace(config=config))
    reloader = SimpleNamespace(audit=SimpleNamespace(write=write))
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
