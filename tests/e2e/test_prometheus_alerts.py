"""The shipped alert rules under `promtool`: they load, and each alert fires on synthetic series
when its condition holds and not below it.

Needs the `prometheus` and `promtool` binaries (Debian package `prometheus`); skipped otherwise.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.e2e.prometheus_server import PROMTOOL, needs_prometheus
from tests.unit.replay.deploy_exprs import ALERTS


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


def _cost_case(per_5m_now: float, scale: float, fires: bool) -> dict[str, Any]:
    """A day at $12/h for 100 requests per 5 min, then the cost per 5 min set to
    `per_5m_now` (times `scale`) for the same requests; evaluated 2 h into the second day."""
    requests = 'model="m",deployment="mock/a",cache="bypass",status="200"'
    before, now = scale, per_5m_now * scale
    expected = [
        _alert(
            {"severity": "warning", "model": "m"},
            "m: cost per request is over 140% of the same hour yesterday",
            "See the prompt version panels and gateway stats --drift for the cause.",
        )
    ]
    return {
        "interval": "5m",
        "input_series": [
            _series("gateway_requests_total", requests, "0+100x312"),
            _series("gateway_cost_usd_total", COST, f"0+{before}x288 {288 * before}+{now}x24"),
        ],
        "alert_rule_test": [
            {
                "eval_time": "26h",
                "alertname": "LLMGatewayCostPerRequestSpike",
                "exp_alerts": expected if fires else [],
            }
        ],
    }


@needs_prometheus
def test_cost_per_request_spike_alerts_above_the_dollar_floor(tmp_path: Path) -> None:
    """+50 % cost per request fires; +30 % does not; +50 % on cents (under $1/h) does not."""
    _promtool_test(
        tmp_path,
        "cost_per_request",
        "1m",
        [_cost_case(1.5, 1.0, True), _cost_case(1.3, 1.0, False), _cost_case(1.5, 0.01, False)],
    )
