"""gateway.config.files: a config, policy or prompt file that is no regular file, or is too
large, is a problem at `file:1`, and reading it always ends (a FIFO never blocks the reload)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.config import check_config
from gateway.config.files import UnreadableFile, read_config_file
from tests.unit.config.problems import BASE, SHA, problems

STRICT_KEY = f'[[keys]]\nid = "k"\nkey_sha256 = "{SHA}"\npolicy = "strict"\n'


def ends(work: Callable[[], list[str]], fifo: Path) -> list[str]:
    """`work()`'s answer; fails (instead of hanging the suite) when it blocks on `fifo`."""
    answer: list[list[str]] = []
    thread = threading.Thread(target=lambda: answer.append(work()), daemon=True)
    thread.start()
    thread.join(5)
    if thread.is_alive():
        # Unblock the reader (a writer that closes at once means end of file), then fail.
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(5)
        pytest.fail(f"reading the config blocked on the FIFO {fifo}")
    return answer[0]


def test_a_fifo_policy_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "policies" / "strict.toml"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    found = ends(lambda: problems(tmp_path, BASE + STRICT_KEY), fifo)
    assert found == ["policies/strict.toml:1: cannot read policy file: not a regular file (a FIFO)"]


def test_a_fifo_config_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    found = ends(lambda: [str(p) for p in check_config(fifo, env={})], fifo)
    assert found == [f"{fifo}:1: cannot read config file: not a regular file (a FIFO)"]


def test_a_fifo_prompt_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "prompts" / "greet.toml"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    found = ends(lambda: problems(tmp_path, BASE), fifo)
    assert found == ["prompts/greet.toml:1: cannot read prompt file: not a regular file (a FIFO)"]


def test_a_policy_linked_to_a_device_is_refused(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "strict.toml").symlink_to("/dev/null")
    assert problems(tmp_path, BASE + STRICT_KEY) == [
        "policies/strict.toml:1: cannot read policy file: not a regular file (a device)"
    ]


def test_a_file_over_the_limit_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * 2048)
    with pytest.raises(UnreadableFile) as caught:
        read_config_file(big, limit=1024)
    assert caught.value.strerror is not None
    assert "larger than" in caught.value.strerror
    assert read_config_file(big, limit=2048) == b"#" * 2048


def test_a_symlink_to_a_regular_file_is_read(tmp_path: Path) -> None:
    # ConfigMaps mount every file as a symlink: those must keep working.
    (tmp_path / "real.toml").write_text("x = 1\n")
    (tmp_path / "link.toml").symlink_to(tmp_path / "real.toml")
    assert read_config_file(tmp_path / "link.toml") == b"x = 1\n"
    with pytest.raises(FileNotFoundError):
        read_config_file(tmp_path / "missing.toml")
