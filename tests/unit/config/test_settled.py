"""gateway.config.settled: a config read while a save was under way is read again, never used."""

from __future__ import annotations

import time
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


def test_a_save_that_paused_after_its_truncate_is_not_applied_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer pauses 150 ms between its truncate and its write (descheduled on a busy
    machine): the empty file stays unchanged for three of SETTLE_S's looks, which was enough
    to apply it and refuse every key until the save went on."""
    path = tmp_path / "config.toml"
    path.write_text("")  # truncated; the write follows after three looks
    looks: list[float] = []

    def pause(seconds: float) -> None:  # the reload's waits; the save goes on at the third
        looks.append(seconds)
        if len(looks) == 3:
            path.write_text(FULL + "# saved\n")

    monkeypatch.setattr(time, "sleep", pause)  # the reload thread's waits
    config = load_settled(path, ())
    assert [key.id for key in config.keys] == ["k"]


def test_an_emptied_config_is_still_applied_once_it_stays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.toml"
    path.write_text("")
    looks: list[float] = []
    monkeypatch.setattr(time, "sleep", looks.append)
    assert load_settled(path, ()).keys == ()
    assert sum(looks) == pytest.approx(settled.SERVES_NOTHING_SETTLE_S)
