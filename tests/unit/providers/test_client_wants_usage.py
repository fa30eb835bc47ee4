"""`client_wants_usage`: whether a stream's client asked for the final usage chunk."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.providers.base import client_wants_usage


@pytest.mark.parametrize(
    ("body", "wanted"),
    [
        ({"stream": True, "stream_options": {"include_usage": True}}, True),
        ({"stream": True, "stream_options": {"include_usage": False}}, False),
        ({"stream": True, "stream_options": {}}, False),
        ({"stream": True}, False),
        ({"stream": True, "stream_options": None}, False),
        ({"stream": True, "stream_options": [{"include_usage": True}]}, False),
    ],
)
def test_only_an_object_with_include_usage_true_asks(body: dict[str, Any], wanted: bool) -> None:
    assert client_wants_usage(body) is wanted
