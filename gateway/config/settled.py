"""Loading a config that is being saved: only a read no save overlapped is used.

A truncate-then-write save leaves the file empty, then partial, for a moment; an empty config is
valid (no keys, no models), so a reload that read it then would apply it. `load_settled` notes
each file's (size, mtime_ns, inode) before reading, waits `SETTLE_S` after, and reads again when
any of them changed (a save was under way). A save that keeps going past `SETTLE_TRIES` reads
is refused; the watcher sees its last write and reloads again once it ends.
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
        time.sleep(SETTLE_S)
        if stamps(path, watched) != before:
            continue
        if isinstance(result, ConfigError):
            raise result
        return result
    message = f"the config files kept changing for {SETTLE_TRIES} reads; not applied"
    raise ConfigError([Problem(str(path), 1, message)])


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
