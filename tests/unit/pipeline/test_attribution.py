"""Attribution: the end user, tags and session a request names, and the bounds on them."""

from __future__ import annotations

import pytest

from gateway.errors import InvalidRequest
from gateway.pipeline.attribution import MAX_TAGS, end_user, request_tags


def test_end_user_from_openai_or_anthropic_fields() -> None:
    assert end_user({"user": "u1"}) == "u1"
    assert end_user({"metadata": {"user_id": "u2"}}) == "u2"
    assert end_user({"user": "", "metadata": {"user_id": 3}}) is None
    with pytest.raises(InvalidRequest):
        end_user({"user": "x" * 257})


def test_tags_from_header_and_metadata_header_wins() -> None:
    tags = request_tags(" feature = search, env=prod ,", {"env": "dev", "n": 1, "team": "a"})
    assert tags == {"env": "prod", "team": "a", "feature": "search"}


@pytest.mark.parametrize(
    "header",
    ["feature", "=x", ",".join(f"t{i}=v" for i in range(MAX_TAGS + 1)), "k=" + "v" * 257],
)
def test_malformed_or_oversized_tags_are_400(header: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        request_tags(header, {})
    assert caught.value.code == "invalid_tags"
