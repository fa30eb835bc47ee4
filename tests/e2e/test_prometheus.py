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
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.config import ConfigError, load_config
from tests.conditions import wait_until
from tests.procs import Proc, free_port, start_gateway
from tests.unit.replay.deploy_exprs import (
    ALERTS,
    Expression,
    alert_expressions,
    dashboard_expressions,
    label_values_label,
    left_hand_side,
    to_promql,
)

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None or PROMTOOL is None,
    reason="needs the prometheus and promtool binaries (Debian: apt-get install prometheus)",
)

KEY, LIMITED, GUARDED = "sk-prom-main", "sk-prom-limited", "sk-prom-guarded"
_METRIC = re.compile(r"\bgateway_[a-z0-9_]+\b")


def _sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


CONFIG = f"""
[logging]
path = "logs/requests.jsonl"

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
    "cached.toml": '[cache]\nmode = "exact"\n',
    "limited.toml": "[limits]\nrpm = 2\n",
    "guarded.toml": (
        '[[guardrails]]\nname = "no-secrets"\ntype = "regex"\napplies_to = "input"\n'
        'action = "block"\npatterns = ["TOPSECRET-[0-9]+"]\n'
    ),
}


def _write_config(root: Path, gaps: dict[str, str]) -> Path:
    """The config, with the guardrail policy when this build's config schema takes it."""
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


def _chat(client: httpx.Client, key: str, model: str, text: str, **extra: Any) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": text}], **extra}
    return client.post(
        "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}
    )


def _traffic(gateway: Proc, round_: int, gaps: dict[str, str]) -> None:
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        for i in range(5):
            assert _chat(client, KEY, "gpt-mock", f"hello {round_} {i}").status_code == 200
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
        assert _chat(client, KEY, "flaky", "falls back").status_code == 200
        statuses = [
            _chat(client, LIMITED, "gpt-mock", f"limit {round_} {i}").status_code for i in range(4)
        ]
        assert 429 in statuses
        if "gateway_guardrail_actions_total" not in gaps:
            assert _chat(client, GUARDED, "gpt-mock", "my code is TOPSECRET-42").status_code == 400


def _reload_twice(gateway: Proc, config: Path, gaps: dict[str, str]) -> None:
    """A broken config, then the good one with a new comment (a reload happens only when the
    files' hash changed): the watcher counts an error and an ok reload."""
    good = config.read_text()
    for text, result in (("[server\n", "error"), (good + "\n# edited\n", "ok")):
        config.write_text(text)
        counted = f'gateway_config_reloads_total{{result="{result}"}}'
        try:
            wait_until(lambda: counted in httpx.get(gateway.url + "/metrics").text, 5, 0.05)
        except AssertionError:
            gaps["gateway_config_reloads_total"] = (
                f"no {result!r} reload counted 5 s after editing the config"
            )
            config.write_text(good)
            return


class Prometheus:
    def __init__(self, url: str, process: subprocess.Popen[bytes]) -> None:
        self.url = url
        self.process = process

    def query(self, expr: str) -> list[dict[str, Any]]:
        response = httpx.get(self.url + "/api/v1/query", params={"query": expr}, timeout=10)
        body = response.json()
        assert body["status"] == "success", f"{expr}: {body.get('error')}"
        return list(body["data"]["result"])

    def scrapes(self) -> int:
        result = self.query('count_over_time(up{job="gateway"}[5m])')
        return int(float(result[0]["value"][1])) if result else 0

    def wait_scrapes(self, more: int, timeout: float = 15) -> None:
        target = self.scrapes() + more
        wait_until(
            lambda: self.scrapes() >= target,
            timeout,
            0.1,
            "Prometheus stopped scraping the gateway",
        )


def _start_prometheus(root: Path, target: str) -> Prometheus:
    port = free_port()
    config = root / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files:\n  - {ALERTS}\n"
        "scrape_configs:\n  - job_name: gateway\n    static_configs:\n"
        f"      - targets: ['{target}']\n"
    )
    log = root / "prometheus.log"
    with log.open("wb") as stderr:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [
                str(PROMETHEUS),
                f"--config.file={config}",
                f"--storage.tsdb.path={root / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    prometheus = Prometheus(f"http://127.0.0.1:{port}", process)

    def ready() -> bool:
        assert process.poll() is None, f"Prometheus exited: {log.read_text()}"
        try:
            return httpx.get(prometheus.url + "/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ready, 15, 0.05, "Prometheus did not start")
    return prometheus


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prometheus, dict[str, str]]]:
    root = tmp_path_factory.mktemp("prometheus")
    gaps: dict[str, str] = {}
    config = _write_config(root, gaps)
    gateway = start_gateway(config)
    prometheus = _start_prometheus(root, gateway.url.removeprefix("http://"))
    try:
        _traffic(gateway, 0, gaps)
        _reload_twice(gateway, config, gaps)
        # Prometheus applies its first targets on a 5 s tick: this wait covers that too.
        prometheus.wait_scrapes(2)
        # A second round between scrapes, so rates are non-zero, not just defined.
        _traffic(gateway, 1, gaps)
        prometheus.wait_scrapes(2)
        yield prometheus, gaps
    finally:
        prometheus.process.terminate()
        prometheus.process.wait(10)
        gateway.stop()


@needs_prometheus
def test_promtool_accepts_the_alert_rules() -> None:
    result = subprocess.run(
        [str(PROMTOOL), "check", "rules", str(ALERTS)],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _alert(labels: dict[str, str], summary: str, description: str | None = None) -> dict[str, Any]:
    annotations = {"summary": summary, **({"description": description} if description else {})}
    return {"exp_labels": labels, "exp_annotations": annotations}


def _series(name: str, labels: str, values: str) -> dict[str, str]:
    return {"series": f"{name}{{{labels}}}", "values": values}


GUARDRAIL = 'guardrail="g",stage="input",action="block"'
COST = 'model="m",deployment="mock/a",team="t"'


def _promtool_test(
    tmp_path: Path, name: str, evaluation_interval: str, tests: list[dict[str, Any]]
) -> None:
    spec = tmp_path / f"{name}_test.yml"
    # JSON is YAML: no YAML library needed to write promtool's test file.
    spec.write_text(
        json.dumps(
            {
                "rule_files": [str(ALERTS)],
                "evaluation_interval": evaluation_interval,
                "tests": tests,
            }
        )
    )
    result = subprocess.run(
        [str(PROMTOOL), "test", "rules", str(spec)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@needs_prometheus
def test_alert_rules_fire_when_they_should(tmp_path: Path) -> None:
    """`promtool test rules` on synthetic series: each alert fires on its condition, and not
    below it."""
    requests = 'model="m",deployment="mock/a",cache="bypass"'
    _promtool_test(
        tmp_path,
        "minutes",
        "1m",
        [
            {  # 10% 5xx for half an hour: fires; 1% does not.
                "interval": "1m",
                "input_series": [
                    _series("gateway_requests_total", f'{requests},status="200"', "0+90x40"),
                    _series("gateway_requests_total", f'{requests},status="502"', "0+10x40"),
                    _series(
                        "gateway_requests_total",
                        'model="n",deployment="mock/b",cache="bypass",status="200"',
                        "0+99x40",
                    ),
                    _series(
                        "gateway_requests_total",
                        'model="n",deployment="mock/b",cache="bypass",status="502"',
                        "0+1x40",
                    ),
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "30m",
                        "alertname": "LLMGatewayHighErrorRatio",
                        "exp_alerts": [
                            _alert(
                                {"severity": "page", "model": "m"},
                                "m: 10% of requests fail with 5xx",
                                'Check the "Upstream errors" and "Deployment health" '
                                "dashboard panels.",
                            )
                        ],
                    }
                ],
            },
            {  # A breaker open for 5 minutes.
                "interval": "1m",
                "input_series": [
                    _series("gateway_deployment_up", 'deployment="mock/a"', "1 1 0 0 0 0 0 0")
                ],
                "alert_rule_test": [
                    {"eval_time": "3m", "alertname": "LLMGatewayDeploymentDown", "exp_alerts": []},
                    {
                        "eval_time": "7m",
                        "alertname": "LLMGatewayDeploymentDown",
                        "exp_alerts": [
                            _alert(
                                {"severity": "page", "deployment": "mock/a"},
                                "deployment mock/a is down (circuit breaker open)",
                            ),
                        ],
                    },
                ],
            },
        ],
    )
    # Day-over-day rules on 5-minute samples: a day of data stays quick to evaluate.
    _promtool_test(
        tmp_path,
        "days",
        "5m",
        [
            {  # Spend doubles against the same hour yesterday (1 then 2 USD a minute): fires.
                "interval": "5m",
                "input_series": [
                    _series("gateway_cost_usd_total", COST, "0+5x288 1440+10x24"),
                    _series(
                        "gateway_cost_usd_total",
                        'model="m",deployment="mock/a",team="u"',
                        "0+0x312",
                    ),
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "26h",
                        "alertname": "LLMGatewayCostPerHourUp",
                        "exp_alerts": [
                            _alert(
                                {"severity": "warning"},
                                "spend in the last hour is over 140% of the same hour yesterday",
                                "See the cost panels by model and team for where it comes from.",
                            )
                        ],
                    }
                ],
            },
            {  # +30%: does not fire.
                "interval": "5m",
                "input_series": [_series("gateway_cost_usd_total", COST, "0+50x288 14400+65x24")],
                "alert_rule_test": [
                    {"eval_time": "26h", "alertname": "LLMGatewayCostPerHourUp", "exp_alerts": []}
                ],
            },
            # Blocks from a guardrail that never blocked before (a new series), and a steady rate.
            {
                "interval": "5m",
                "input_series": [
                    _series("gateway_guardrail_actions_total", GUARDRAIL, "_x288 0+25x6"),
                    _series(
                        "gateway_guardrail_actions_total",
                        'guardrail="steady",stage="input",action="block"',
                        "0+25x294",
                    ),
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "1465m",
                        "alertname": "LLMGatewayGuardrailBlockSpike",
                        "exp_alerts": [
                            _alert(
                                {"severity": "warning", "guardrail": "g"},
                                "guardrail g blocks far more requests than usual",
                            )
                        ],
                    }
                ],
            },
        ],
    )


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
