"""The dashboard and alert rules use only metrics (and labels) the gateway really exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from prometheus_client.metrics import MetricWrapperBase

from gateway.observability.metrics import Metrics
from gateway.observability.request_series import LocalCounter, LocalHistogram
from tests.unit.replay.deploy_exprs import (
    Expression,
    alert_expressions,
    dashboard_expressions,
    left_hand_side,
)

_METRIC = re.compile(r"\bgateway_[a-z0-9_]+\b")
_SELECTOR = re.compile(r"\b(gateway_[a-z0-9_]+)\s*\{([^}]*)\}")
_MATCHER = re.compile(r"(\w+)\s*(?:=~|!~|!=|=)")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)")
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exposed() -> dict[str, set[str]]:
    """Every sample name the registry can expose -> the label names it carries."""
    metrics = Metrics()
    names: dict[str, set[str]] = {}
    groups = (metrics, metrics.state_gauges, metrics.admin)
    for wrapper in [value for group in groups for value in vars(group).values()]:
        if isinstance(wrapper, MetricWrapperBase):
            name, labels, kind = wrapper._name, set(wrapper._labelnames), str(wrapper._type)
        elif isinstance(wrapper, LocalCounter | LocalHistogram):  # the per-request series
            name, labels = wrapper.name, set(wrapper.label_names)
            kind = "counter" if isinstance(wrapper, LocalCounter) else "histogram"
        else:
            continue
        for suffix in _SUFFIXES[kind]:
            names[name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    # Cross-check against what the registry itself describes.
    described = {family.name for family in metrics.registry.collect()}
    assert {
        n.removesuffix("_total").removesuffix("_bucket").removesuffix("_sum").removesuffix("_count")
        for n in names
    } <= described
    return names


EXPRESSIONS = dashboard_expressions() + alert_expressions()


def test_files_have_expressions() -> None:
    assert len(dashboard_expressions()) >= 20
    alerts = alert_expressions()
    assert {e.source for e in alerts} >= {
        "alert: LLMGatewayHighErrorRatio",
        "alert: LLMGatewayLatencyP95SLO",
        "alert: LLMGatewayDeploymentDown",
        "alert: LLMGatewayCostPerHourUp",
        "alert: LLMGatewayGuardrailBlockSpike",
    }
    assert "offset 1d" in next(
        e.expr for e in alerts if e.source == "alert: LLMGatewayCostPerHourUp"
    )


@pytest.mark.parametrize("expression", EXPRESSIONS, ids=lambda e: e.source)
def test_expression_uses_only_exposed_metrics_and_labels(expression: Expression) -> None:
    names = exposed()
    used = set(_METRIC.findall(expression.expr))
    assert used, f"{expression.source}: no gateway metric in {expression.expr!r}"
    unknown = used - set(names)
    assert not unknown, f"{expression.source}: not exposed by the gateway: {sorted(unknown)}"
    for metric, matchers in _SELECTOR.findall(expression.expr):
        for label in _MATCHER.findall(matchers):
            assert label in names[metric], f"{expression.source}: {metric} has no label {label!r}"
    available = set().union(*(names[m] for m in used))
    for group in _GROUPING.findall(expression.expr):
        for label in (g.strip() for g in group.split(",") if g.strip()):
            assert label in available, f"{expression.source}: no metric here has label {label!r}"


def test_every_metric_is_on_the_dashboard() -> None:
    text = " ".join(e.expr for e in dashboard_expressions())
    families = {
        name.rsplit("_", 1)[0] if name.endswith(("_bucket", "_sum", "_count", "_total")) else name
        for name in exposed()
    }
    missing = sorted(f for f in families if f not in text)
    assert not missing, f"metrics with no dashboard panel: {missing}"


DOCS = Path(__file__).parents[3] / "docs" / "metrics.md"
DASHBOARD = Path(__file__).parents[3] / "deploy" / "grafana" / "llm-gateway.json"


def test_every_metric_and_dashboard_row_is_documented() -> None:
    """docs/metrics.md's table names every metric the gateway exposes, and its dashboard table
    every row of the dashboard (an operator reading an unknown series or row finds it)."""
    text = DOCS.read_text()
    documented = set(re.findall(r"^\| `(gateway_[a-z0-9_]+)` \|", text, re.MULTILINE))
    families = {
        name.removesuffix("_bucket") for name in exposed() if not name.endswith(("_sum", "_count"))
    }
    assert not sorted(families - documented), "exposed, not in docs/metrics.md"
    assert not sorted(documented - families), "in docs/metrics.md, not exposed"
    panels = json.loads(DASHBOARD.read_text())["panels"]
    rows = {panel["title"] for panel in panels if panel["type"] == "row"}
    table = set(re.findall(r"^\| ([A-Z][^|]*?) \| .* \|$", text, re.MULTILINE))
    assert not sorted(rows - table), "dashboard rows not in docs/metrics.md"


def test_left_hand_side() -> None:
    assert (
        left_hand_side("sum(rate(a[5m])) / sum(rate(b[5m])) > 0.05")
        == "sum(rate(a[5m])) / sum(rate(b[5m]))"
    )
    assert left_hand_side("(x > 3 * y or x unless y) and z > 10") == "x"
    assert left_hand_side('min by (d) (up{a=~"x|y"}) == 0') == 'min by (d) (up{a=~"x|y"})'
    assert left_hand_side("a >= 1") == "a"
