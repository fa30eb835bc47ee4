"""Attribution end to end: end user, tags and session in records, `stats --by`, `/admin/usage`
and the tag metrics; `[user_limits]` per end user, exact across two replicas on one Redis."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conditions import wait_until
from tests.e2e.limits_setup import AUTH, MESSAGES, write_setup
from tests.e2e.records import read_records
from tests.procs import REPO, Proc, start_gateways
from tests.redis_server import RedisServer, start_redis_or_skip

ADMIN_KEY = "admin-attribution-test"
POLICY = "[user_limits]\nrpm = 3\n"
EXTRA = '\n[admin]\nkey_env = "ATTR_ADMIN_KEY"\n[metrics]\ntag_labels = ["feature"]\n'


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    server = start_redis_or_skip()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory, redis: RedisServer, mock_upstream: Proc
) -> Iterator[list[Proc]]:
    root = tmp_path_factory.mktemp("attribution")
    configs = write_setup(root, POLICY, mock_upstream, mock_upstream, redis.url)
    for config in configs:
        config.write_text(EXTRA + config.read_text())
    procs = start_gateways(configs, env={"ATTR_ADMIN_KEY": ADMIN_KEY})
    for proc, config in zip(procs, configs, strict=True):
        proc.log_path = config.with_suffix(".jsonl")
    yield procs
    for proc in procs:
        proc.stop()


def post(proc: Proc, user: str | None, **headers: str) -> httpx.Response:
    body: dict[str, Any] = {"model": "echo", "messages": MESSAGES, "max_tokens": 1}
    if user is not None:
        body["user"] = user
    return httpx.post(proc.url + "/v1/chat/completions", json=body, headers={**AUTH, **headers})


def test_user_limits_hold_per_user_across_replicas(replicas: list[Proc]) -> None:
    statuses = [post(replicas[i % 2], "alice").status_code for i in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = post(replicas[0], "alice")
    assert (
        refused.status_code == 429 and "user 'limited/alice'" in refused.json()["error"]["message"]
    )
    assert [post(replicas[i % 2], "bob").status_code for i in range(3)] == [200] * 3
    # A request naming no user is not counted against any user's limit.
    assert post(replicas[1], None).status_code == 200


def test_records_stats_usage_and_metrics_carry_the_attribution(replicas: list[Proc]) -> None:
    logs = [log for proc in replicas if (log := proc.log_path) is not None]
    assert len(logs) == len(replicas)
    headers = {"x-gateway-tags": "feature=search,env=prod", "x-gateway-session-id": "conv-42"}
    for i, user in enumerate(("carol", "dave", "carol")):
        assert post(replicas[i % 2], user, **headers).status_code == 200

    def sessions() -> list[dict[str, Any]] | None:
        found = [r for log in logs for r in read_records(log) if r.get("session_id") == "conv-42"]
        return found if len(found) >= 3 else None

    attributed = wait_until(sessions, 5, message="the session's records never arrived")
    assert len(attributed) == 3
    assert {r["user"] for r in attributed} == {"carol", "dave"}
    assert all(r["tags"] == {"feature": "search", "env": "prod"} for r in attributed)

    stats = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "stats",
            str(logs[0]),
            "--by",
            "user,tag:feature,session",
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert stats.returncode == 0, stats.stderr
    rows = json.loads(stats.stdout)["groups"]
    carol = [r for r in rows if r["user"] == "carol" and r["session"] == "conv-42"]
    assert carol and carol[0]["tag:feature"] == "search"

    usage = httpx.get(
        replicas[0].url + "/admin/usage",
        params={"key": "limited", "by": "user,session"},
        headers={"authorization": f"Bearer {ADMIN_KEY}"},
    ).json()
    groups = {(g["user"], g["session"]): g["requests"] for g in usage["groups"]}
    assert groups[("carol", "conv-42")] >= 1

    def tagged() -> bool:
        text = httpx.get(replicas[0].url + "/metrics").text
        return 'gateway_tag_requests_total{status="200",tag="feature",value="search"}' in text

    wait_until(tagged, 5, message="no tag series on /metrics")


def test_malformed_tags_get_a_400(replicas: list[Proc]) -> None:
    response = post(replicas[0], "erin", **{"x-gateway-tags": "feature"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_tags"
