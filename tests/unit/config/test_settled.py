"""gateway.config.settled: a config read while a save was under way is read again, never used."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigError, GatewayConfig, load_config, settled
from gateway.config.settled import load_settled
from tests.mock_config import MOCK_MODEL, key_table

FULL = MOCK_MODEL + key_table("k")


def test_a_read_during_a_truncate_then_write_save_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(FULL)
    reads: list[GatewayConfig] = []

    def mid_save(file: Path) -> GatewayConfig:
        if not reads:
            file.write_text("")  # truncated ...
            reads.append(load_config(file))  # ... read empty: valid, with no keys at all
            file.write_text(FULL + "# saved\n")  # ... then written
            return reads[0]
        reads.append(load_config(file))
        return reads[-1]

    config = load_settled(path, (), mid_save)
    assert len(reads) == 2 and reads[0].keys == ()
    assert [key.id for key in config.keys] == ["k"]


def test_a_policy_saved_during_the_read_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(MOCK_MODEL + key_table("k", policy="p"))
    policy = tmp_path / "policies" / "p.toml"
    policy.parent.mkdir()
    policy.write_text("[limits]\nrpm = 5\n")
    calls = []

    def policy_saved(file: Path) -> GatewayConfig:
        calls.append(file)
        if len(calls) == 2:
            policy.write_text("[limits]\nrpm = 70\n")  # a new size: seen within one clock tick
        return load_config(file)

    config = load_settled(path, (), policy_saved)
    # Read 1 names the policies directory (stamped from then on), read 2 overlaps a save.
    assert len(calls) == 3
    assert config.policies["p"].limits.rpm == 70


def test_files_that_never_settle_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settled, "SETTLE_S", 0.001)
    path = tmp_path / "config.toml"
    path.write_text(FULL)

    def always_saving(file: Path) -> GatewayConfig:
        with file.open("a") as handle:
            handle.write("# another save\n")
        return load_config(file)

    with pytest.raises(ConfigError) as caught:
        load_settled(path, (tmp_path / "policies",), always_saving)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:1: the config files kept changing for {settled.SETTLE_TRIES} reads; not applied"
    ]
