"""Attribution: the end user, tags and session a request names, and the bounds on them."""

from __future__ import annotations

import pytest

from gateway.errors import InvalidRequest
from gateway.pipeline.attribution import MAX_TAGS, end_user, header_text, request_tags


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


def test_a_metadata_value_openai_accepts_is_never_refused() -> None:
    # OpenAI takes metadata values up to 512 characters; the body is forwarded as sent, so the
    # gateway's own bookkeeping must not turn such a request into a 400.
    value = "v" * 512
    assert request_tags(None, {"note": value}) == {"note": value}
    with pytest.raises(InvalidRequest):
        request_tags(None, {"note": value + "v"})
    with pytest.raises(InvalidRequest):  # the header keeps its own bound
        request_tags("note=" + "v" * 257, {"note": "short"})


def test_utf8_header_values_are_read_as_the_text_sent() -> None:
    # Header bytes arrive decoded as latin-1: `feature=café` sent as UTF-8 would be recorded,
    # grouped and labelled as `cafÃ©`.
    sent = "feature=café,env=日本"
    assert header_text(sent.encode().decode("latin-1")) == sent
    assert header_text("plain") == "plain" and header_text(None) is None
    assert header_text("caf\xe9") == "caf\xe9"  # latin-1 bytes that are no UTF-8 stay
