"""Loading a config that is being saved: only a read no save overlapped is used.

A truncate-then-write save leaves the file empty, then partial, for a moment; an empty config is
valid (no keys, no models), so a reload that read it then would apply it. `load_settled` notes
each file's (size, mtime_ns, inode) before reading, waits `SETTLE_S` after, and reads again when
any of them changed (a save was under way). A save that keeps going past `SETTLE_TRIES` reads
is refused; the watcher sees its last write and reloads again once it ends.

A read that would serve nothing (no keys, or no models: every request refused) must stay
unchanged for `SERVES_NOTHING_SETTLE_S` instead: it is far more often a save that paused between
its truncate and its write (a busy machine deschedules a writer for more than 50 ms) than an
operator's intent, and applying it revokes every key until the save goes on. An emptied config
is still applied, one second later.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from gateway.config.errors import ConfigError, Problem
from gateway.config.load import load_config
from gateway.config.types import GatewayConfig

SETTLE_S = 0.05
SETTLE_TRIES = 40
SERVES_NOTHING_SETTLE_S = 1.0

Stamp = tuple[int, int, int] | None
Loader = Callable[[Path], GatewayConfig]


def load_settled(
    path: Path, directories: Iterable[Path], load: Loader = load_config
) -> GatewayConfig:
    """`load(path)` from files that did not change while being read (`path` and the `*.toml`
    of `directories` and of the policies and prompts directories the config names).

    Raises the `ConfigError` of a settled read, or one saying the files kept changing.
    """
    watched = set(directories)
    for _ in range(SETTLE_TRIES):
        before = stamps(path, watched)
        try:
            result: GatewayConfig | ConfigError = load(path)
        except ConfigError as exc:
            result = exc
        if isinstance(result, GatewayConfig):
            named = {result.policies_dir, result.prompts_dir}
            if not named <= watched:
                watched |= named  # stamp them too, and read again
                continue
        if not _unchanged(path, watched, before, _settle_s(result)):
            continue
        if isinstance(result, ConfigError):
            raise result
        return result
    message = f"the config files kept changing for {SETTLE_TRIES} reads; not applied"
    raise ConfigError([Problem(str(path), 1, message)])


def _settle_s(result: GatewayConfig | ConfigError) -> float:
    """How long the files must stay unchanged after a read for it to be used."""
    if isinstance(result, GatewayConfig) and not (result.keys and result.models):
        return SERVES_NOTHING_SETTLE_S
    return SETTLE_S


def _unchanged(
    path: Path, watched: Iterable[Path], before: dict[Path, Stamp], settle_s: float
) -> bool:
    """Whether the files keep the stamps `before` for `settle_s`, looked at every `SETTLE_S`."""
    for _ in range(max(1, round(settle_s / SETTLE_S))):
        time.sleep(SETTLE_S)
        if stamps(path, watched) != before:
            return False
    return True


def stamps(path: Path, directories: Iterable[Path]) -> dict[Path, Stamp]:
    """(size, mtime_ns, inode) of `path` and of each `*.toml` in `directories`; None: unreadable."""
    files = [path]
    for directory in sorted(directories):
        try:
            files.extend(sorted(directory.glob("*.toml")))
        except OSError:  # a symlink loop or an unreadable directory: the load reports it
            continue
    return {file: _stamp(file) for file in files}


def _stamp(file: Path) -> Stamp:
    try:
        st = os.stat(file)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)
