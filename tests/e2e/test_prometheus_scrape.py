"""A real Prometheus scrapes a real gateway; every dashboard and alert expression gets data.

Needs the `prometheus` and `promtool` binaries (Debian package `prometheus`); skipped otherwise.

How expressions are checked:
- Dashboard expressions run as they are, with Grafana's variables replaced (`$__rate_interval`,
  `$__interval`, `$__range` -> `1m`; `$model`, `$team` -> `.*`); each must return a series.
  A `label_values(metric, label)` variable query becomes `metric`, whose series must carry the
  label.
- Alert expressions compare with a threshold, so with healthy test traffic they rightly return
  nothing. Each one must run without error, and its *left-hand side* must return a series: the
  expression is cut at its lowest-precedence top-level operator (`or`, then `and`/`unless`,
  then a comparison), keeping the left operand, until no such operator is left (for
  `(A > 3 * B or A unless B) and C > 10` that is `A`).
- The gateway gets a scripted mix first: successes, 5xx errors, a fallback, streams, cache
  misses and hits, rate-limit rejections, a guardrail block, a failed and a good config reload.
  A metric this build cannot produce yet may be listed in `gaps` with the reason (for example a
  config schema that does not take `[[guardrails]]` yet); expressions that only lack such
  metrics are reported, not failed. Everything else must return a series.
"""

from __future__ import annotations

import hashlib
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.config import ConfigError, load_config
from tests.conditions import wait_until
from tests.e2e.prometheus_server import Prometheus, needs_prometheus, start_prometheus
from tests.procs import Proc, start_gateway
from tests.unit.replay.deploy_exprs import (
    Expression,
    alert_expressions,
    dashboard_expressions,
    label_values_label,
    left_hand_side,
    to_promql,
)

KEY, LIMITED, GUARDED = "sk-prom-main", "sk-prom-limited", "sk-prom-guarded"
_METRIC = re.compile(r"\bgateway_[a-z0-9_]+\b")


def _sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


CONFIG = f"""
[logging]
path = "logs/requests.jsonl"

[metrics]
tag_labels = ["feature"]

# Nothing listens there: every export fails, so the drop counter has a series.
[tracing]
endpoint = "http://127.0.0.1:9/v1/traces"
export_timeout_s = 0.2

[routing]
backoff_base_s = 0.001
backoff_max_s = 0.002

[[providers]]
name = "mock"
type = "mock"

[[models]]
name = "gpt-mock"
[[models.deployments]]
provider = "mock"
model = "mock-small"
input_cost_per_1m = 1.0
output_cost_per_1m = 2.0

[[models]]
name = "flaky"
fallbacks = ["gpt-mock"]
[[models.deployments]]
provider = "mock"
model = "fail-500"

[[models]]
name = "broken"
[[models.deployments]]
provider = "mock"
model = "fail-500"

[[keys]]
id = "main"
team = "platform"
policy = "cached"
key_sha256 = "{_sha(KEY)}"

[[keys]]
id = "limited"
team = "research"
policy = "limited"
key_sha256 = "{_sha(LIMITED)}"
"""
GUARDED_KEY = f"""
[[keys]]
id = "guarded"
team = "support"
policy = "guarded"
key_sha256 = "{_sha(GUARDED)}"
"""
POLICIES = {
    "cached.toml": '[cache]\nmode = "exact"\n[limits]\nbudget_usd_per_day = 1000\n',
    "limited.toml": "[limits]\nrpm = 2\n",
    "guarded.toml": (
        '[[guardrails]]\nname = "no-secrets"\ntype = "regex"\napplies_to = "input"\n'
        'action = "block"\npatterns = ["TOPSECRET-[0-9]+"]\n'
    ),
}


PROMPT = '[[versions]]\nversion = 1\nmessages = [{ role = "system", content = "Be brief." }]\n'
ATTRIBUTED = {"x-gateway-tags": "feature=search", "x-gateway-session-id": "conversation-1"}


def _write_config(root: Path, gaps: dict[str, str]) -> Path:
    """The config, with the guardrail policy when this build's config schema takes it."""
    (root / "prompts").mkdir()
    (root / "prompts" / "bot.toml").write_text(PROMPT)
    (root / "policies").mkdir()
    for name, text in POLICIES.items():
        (root / "policies" / name).write_text(text)
    path = root / "config.toml"
    path.write_text(CONFIG + GUARDED_KEY)
    try:
        load_config(path)
    except ConfigError as exc:
        path.write_text(CONFIG)
        gaps["gateway_guardrail_actions_total"] = (
            f"this build rejects the regex guardrail policy: {exc}"
        )
        load_config(path)
    return path


def _chat(
    client: httpx.Client,
    key: str,
    model: str,
    text: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": text}], **extra}
    return client.post(
        "/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {key}", **(headers or {})},
    )


def _traffic(gateway: Proc, round_: int, gaps: dict[str, str]) -> None:
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        for i in range(5):
            hello = f"hello {round_} {i}"
            assert _chat(client, KEY, "gpt-mock", hello, ATTRIBUTED).status_code == 200
            prompted = _chat(client, KEY, "gpt-mock", hello, prompt={"id": "bot"})
            assert prompted.status_code == 200
            # The same request twice: a cache miss, then a hit.
            assert _chat(client, KEY, "gpt-mock", "cache me").status_code == 200
            with client.stream(
                "POST",
                "/v1/chat/completions",
                headers={"authorization": f"Bearer {KEY}"},
                json={
                    "model": "gpt-mock",
                    "stream": True,
                    "messages": [{"role": "user", "content": f"s{i}"}],
                },
            ) as stream:
                assert stream.status_code == 200
                stream.read()
        assert _chat(client, KEY, "broken", "fails").status_code >= 500
        assert _chat(client, KEY, "broken", "fails", prompt={"id": "bot"}).status_code >= 500
        assert _chat(client, KEY, "flaky", "falls back").status_code == 200
        statuses = [
            _chat(client, LIMITED, "gpt-mock", f"limit {round_} {i}").status_code for i in range(4)
        ]
        assert 429 in statuses
        if "gateway_guardrail_actions_total" not in gaps:
            assert _chat(client, GUARDED, "gpt-mock", "my code is TOPSECRET-42").status_code == 400
    # A request the HTTP server itself refuses (a control character in a header value).
    host, port = gateway.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nx-bad: a\x01b\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 400")


def _reload_twice(gateway: Proc, config: Path, gaps: dict[str, str]) -> None:
    """A broken config, then the good one with a new comment (a reload happens only when the
    files' hash changed): the watcher counts an error and an ok reload."""
    good = config.read_text()
    for text, result in (("[server\n", "error"), (good + "\n# edited\n", "ok")):
        config.write_text(text)
        counted = f'gateway_config_reloads_total{{result="{result}"}} 1.0'
        try:
            wait_until(lambda: counted in httpx.get(gateway.url + "/metrics").text, 5, 0.05)
        except AssertionError:
            gaps["gateway_config_reloads_total"] = (
                f"no {result!r} reload counted 5 s after editing the config"
            )
            config.write_text(good)
            return


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prometheus, dict[str, str]]]:
    root = tmp_path_factory.mktemp("prometheus")
    gaps: dict[str, str] = {}
    config = _write_config(root, gaps)
    gateway = start_gateway(config)
    prometheus = start_prometheus(root, gateway.url.removeprefix("http://"))
    try:
        _traffic(gateway, 0, gaps)
        # Prometheus applies its first targets on a 5 s tick: this wait covers that too.
        prometheus.wait_scrapes(2)
        # After the first scrapes, as in the field: an alert sees the first failed reload.
        _reload_twice(gateway, config, gaps)
        # A second round between scrapes, so rates are non-zero, not just defined.
        _traffic(gateway, 1, gaps)
        prometheus.wait_scrapes(2)
        yield prometheus, gaps
    finally:
        prometheus.process.terminate()
        prometheus.process.wait(10)
        gateway.stop()


def _check(
    prometheus: Prometheus,
    gaps: dict[str, str],
    expression: Expression,
    expr: str,
    label: str | None = None,
) -> str | None:
    """None when the expression returned a series; the reason when only known gaps explain it."""
    result = prometheus.query(expr)
    if result:
        if label is not None:
            assert all(label in series["metric"] for series in result), (
                f"{expression.source}: no {label!r} label"
            )
        return None
    empty = sorted(
        m for m in set(_METRIC.findall(expr)) if not prometheus.query(f'count({{__name__="{m}"}})')
    )
    unexplained = [m for m in empty if m not in gaps]
    assert empty and not unexplained, (
        f"{expression.source}: {expr!r} returned no series "
        f"(metrics with no series: {unexplained or 'none; the expression itself is wrong'})"
    )
    return f"{expression.source}: {', '.join(f'{m} ({gaps[m]})' for m in empty)}"


@needs_prometheus
def test_every_dashboard_expression_returns_a_series(
    stack: tuple[Prometheus, dict[str, str]],
) -> None:
    prometheus, gaps = stack
    explained = []
    for expression in dashboard_expressions():
        note = _check(
            prometheus,
            gaps,
            expression,
            to_promql(expression.expr),
            label_values_label(expression.expr),
        )
        if note:
            explained.append(note)
    if explained:
        print("\nexpressions without data because of known gaps:\n  " + "\n  ".join(explained))


@needs_prometheus
def test_every_alert_left_hand_side_returns_a_series(
    stack: tuple[Prometheus, dict[str, str]],
) -> None:
    prometheus, gaps = stack
    for expression in alert_expressions():
        prometheus.query(expression.expr)  # the whole rule must at least evaluate
        _check(prometheus, gaps, expression, left_hand_side(expression.expr))


@needs_prometheus
def test_prometheus_loaded_the_rules(stack: tuple[Prometheus, dict[str, str]]) -> None:
    prometheus, _ = stack
    body = httpx.get(prometheus.url + "/api/v1/rules", timeout=10).json()
    names = {rule["name"] for group in body["data"]["groups"] for rule in group["rules"]}
    assert names == {e.source.removeprefix("alert: ") for e in alert_expressions()}


@needs_prometheus
def test_the_first_failed_config_reload_fires_its_alert(
    stack: tuple[Prometheus, dict[str, str]],
) -> None:
    """The error series used to appear only at the first failure, already at 1: increase()
    over it is 0, so a gateway's first failed reload (often its only one) never fired
    LLMGatewayConfigReloadFailed. It is at 0 from the start now."""
    prometheus, gaps = stack
    assert "gateway_config_reloads_total" not in gaps
    (rule,) = [e for e in alert_expressions() if e.source == "alert: LLMGatewayConfigReloadFailed"]
    assert prometheus.query(rule.expr), f"{rule.expr!r} is not firing after a failed reload"
