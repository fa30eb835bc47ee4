"""The key names of the Redis backend under a prefix (`keys.KeyNames`), and its check."""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from gateway.state.periods import periods
from gateway.state.redis.keys import KeyNames, prefix_problem
from gateway.state.redis.wire import bulk

T0 = 1_768_435_200.0  # 2026-01-15T00:00:00Z


def test_the_default_prefix_names_the_keys_of_earlier_versions() -> None:
    names = KeyNames()
    assert names.limit_key("rpm", "key", "demo") == "llmgw:{limits}:rpm:key:demo"
    assert names.spend_keys("team", "qa", periods(T0)) == (
        "llmgw:{limits}:spend:team:qa:day:2026-01-15",
        "llmgw:{limits}:spend:team:qa:month:2026-01",
        "llmgw:{limits}:spend:team:qa:total",
    )
    assert names.reservation_key("t1") == "llmgw:{limits}:r:t1"
    assert names.receipt_key("r1") == "llmgw:{limits}:s:r1"
    assert names.breaker_key("dep") == "llmgw:{breakers}:dep"
    assert names.cache_key("abc") == "llmgw:{cache:abc}"
    assert names.remembered_key("response:r1") == "llmgw:{remembered:response:r1}"
    assert names.probe == "llmgw:{limits}:probe"


def test_a_prefix_starts_every_name_and_keeps_the_hash_tags() -> None:
    names = KeyNames("staging")
    made = [
        names.limit_key("concurrent", "key", "demo"),
        *names.spend_keys("key", "demo", periods(T0)),
        names.reservation_key("t1"),
        names.receipt_key("r1"),
        names.probe,
    ]
    assert all(key.startswith("staging:{limits}:") for key in made), made
    # Every limit key of one script call still hashes to the `{limits}` slot.
    assert {key_slot(key.encode()) for key in made} == {key_slot(b"{limits}")}
    assert names.breaker_key("dep") == "staging:{breakers}:dep"
    assert names.cache_key("abc") == "staging:{cache:abc}"
    assert names.remembered_key("x") == "staging:{remembered:x}"


def test_two_prefixes_in_one_process_keep_their_own_cached_pieces() -> None:
    staging, production = KeyNames("staging"), KeyNames("production")
    assert staging.limit_key_piece("rpm", "key", "demo") == bulk("staging:{limits}:rpm:key:demo")
    assert production.limit_key_piece("rpm", "key", "demo") == bulk(
        "production:{limits}:rpm:key:demo"
    )
    assert staging.limit_key_piece("rpm", "key", "demo") == bulk("staging:{limits}:rpm:key:demo")


@pytest.mark.parametrize("prefix", ["", "p" * 65, "a{b", "a}", "a:b", "a*", "a b", "a\n", "é"])
def test_a_prefix_that_would_break_the_layout_is_refused(prefix: str) -> None:
    assert prefix_problem(prefix) is not None
    with pytest.raises(ValueError, match="key prefix"):
        KeyNames(prefix)


@pytest.mark.parametrize("prefix", ["llmgw", "prod", "team-a_v2.eu", "p" * 64])
def test_a_plain_prefix_is_accepted(prefix: str) -> None:
    assert prefix_problem(prefix) is None
    assert KeyNames(prefix).prefix == prefix
