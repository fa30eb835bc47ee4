"""Live config reloads: watch the files, validate everything, swap one immutable runtime.

Every trigger (a file event, SIGHUP, `POST /admin/reload`) runs the same `reload()`: parse and
validate the config and every policy, from a read no save overlapped (`load_settled`); on any
problem keep serving the last good config, log each problem as `file:line: message` and count
`gateway_config_reloads_total{result="error"}`; otherwise swap `services.runtime` in one
assignment. Requests in flight keep the runtime they started with. Limit counters, breaker
state and the cache live in the state backend and are untouched. The settings built into the
process at start (listen address, workers, HTTP limits, log path, tracing, state backend:
gateway/config/reloadable.py) need a restart: a reload keeps their old values and says so;
the record sink takes the new rotation and batching settings.

The watcher looks at the config file's directory, the policies and prompts directories and
the directories holding them (so editor save-by-rename, truncate-and-write and ConfigMap
symlink swaps are all seen), waits for a burst of events to settle, and reloads only when the
files' version hash changed. When the policies or prompts directory itself is made, renamed,
replaced or recreated (`mkdir prompts`, rsync, git checkout, `mv policies p; mv p policies`),
the watcher reloads and watches the paths again, resolved anew, so later edits apply too; so
does a reload whose config names other policies or prompts directories.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.config import ConfigError
from gateway.config.policies import DEFAULT_POLICY
from gateway.config.reloadable import keep_restart_only, restart_only_changes
from gateway.config.secret_env import ENVIRONMENT, secret_names, secrets_digest
from gateway.config.settled import load_settled
from gateway.config.types import GatewayConfig, LoggingConfig, PolicyConfig
from gateway.observability.audit import AuditLog
from gateway.pipeline.services import Services
from gateway.runtime import build_runtime
from gateway.worker_heartbeat import beat, touch, worker_file

log = logging.getLogger("gateway.reload")
RUN_DIR_ENV = "GATEWAY_RUN_DIR"
DEBOUNCE_MS = 150
# How often the files are looked at when the native watcher cannot run.
POLL_MS = 300
# How long the watcher waits before it says nothing changed (its stop check; after a directory
# swap, the moment the new watcher surely runs and the catch-up read goes).
CATCH_UP_MS = 500
# Who the audit trail names for a reload nobody authenticated for.
_WHO = {"file change": "file-watch", "SIGHUP": "signal"}


@dataclass
class ReloadStatus:
    version: str
    loaded_at: float
    last_result: str = "ok"
    last_attempt_at: float | None = None
    last_error: dict[str, Any] | None = None
    restart_required: list[str] = field(default_factory=list)
    # How edits are seen: "native" (inotify and kin), or "polling" once the native watcher
    # could not run (e.g. the host's inotify instances are used up); the last such error.
    watcher: str = "native"
    watcher_error: str | None = None


def emptied_default_policy(old: GatewayConfig, new: GatewayConfig) -> bool:
    """Whether the `default` policy had something in it and has nothing now: its file was
    deleted (which the load allows: no `default.toml` is an empty policy) or emptied."""
    empty = PolicyConfig(DEFAULT_POLICY)
    return (
        old.policies.get(DEFAULT_POLICY, empty) != empty and new.policies[DEFAULT_POLICY] == empty
    )


def _audit_log(logging: LoggingConfig) -> AuditLog:
    return AuditLog(logging.audit_path, logging.audit_max_bytes, logging.audit_backups)


def _directories(config: GatewayConfig) -> tuple[Path, Path]:
    return (config.policies_dir, config.prompts_dir)


def _secret_files(config: GatewayConfig) -> list[Path]:
    """The files the config's secrets are read from (`<NAME>_FILE`), as the variables name
    them (a Kubernetes secret's file is a symlink through `..data`: its directory is watched,
    not where the link points)."""
    return ENVIRONMENT.files(secret_names(config))


def _resolved(path: Path) -> Path:
    """`path` with its symlinks resolved; as given when they loop (a symlink loop is a bad
    edit the reload refuses, not a reason for the watcher to fail)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: Python 3.11's "Symlink loop"
        return path


class Reloader:
    def __init__(self, services: Services, path: Path) -> None:
        self.services = services
        self.path = path
        config = services.runtime.config
        self.status = ReloadStatus(version=config.version, loaded_at=time.time())
        # The secrets the serving config read (variables or files): a reload of unchanged files
        # still applies one rotated since.
        self._secrets = secrets_digest(config, ENVIRONMENT)
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()
        # Ends the running watch (at a stop, or to watch the paths of a reloaded config).
        self._watching = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._beat: asyncio.Task[None] | None = None
        # Set when the policies directory itself changed: watch the paths resolved anew.
        self._rewatch = False
        self.run_dir = Path(os.environ[RUN_DIR_ENV]) if os.environ.get(RUN_DIR_ENV) else None
        self.audit = _audit_log(config.logging)

    async def reload(self, trigger: str, who: str | None = None) -> dict[str, Any]:
        """Load, validate and swap; returns {result: ok | unchanged | error, version, problems}.
        Every attempt leaves one line in the audit trail (`who`: the admin key's id for the
        admin API, else named after the trigger)."""
        before = self.status.version
        result = await self._reload(trigger)
        self.audit.write(
            who or _WHO.get(trigger, trigger),
            "reload",
            trigger=trigger,
            file=str(self.path),
            result=result["result"],
            before=before,
            after=result["version"],
            problems=result["problems"],
        )
        return result

    async def _reload(self, trigger: str) -> dict[str, Any]:
        async with self._lock:
            self.status.last_attempt_at = time.time()
            try:
                current = self.services.runtime.config
                directories = (current.policies_dir, current.prompts_dir)
                new, secrets = await asyncio.to_thread(self._load, directories)
            except ConfigError as exc:
                problems = [str(p) for p in exc.problems]
                for problem in problems:
                    log.error("config reload refused (%s): %s", trigger, problem)
                self.services.metrics.config_reloads.labels("error").inc()
                self.status.last_result = "error"
                self.status.last_error = {
                    "at": time.time(),
                    "trigger": trigger,
                    "problems": problems,
                }
                return {"result": "error", "version": self.status.version, "problems": problems}
            old = self.services.runtime.config
            if new.version == old.version and secrets == self._secrets:
                # Back to the files that serve (a bad edit reverted): no error stands.
                self.status.last_result, self.status.last_error = "unchanged", None
                return {"result": "unchanged", "version": old.version, "problems": []}
            self.status.restart_required = restart_only_changes(old, new)
            for change in self.status.restart_required:
                log.warning("config change needs a restart to apply: %s", change)
            if emptied_default_policy(old, new):
                log.warning(
                    "config reload (%s): policy 'default' is now empty (%s/default.toml deleted "
                    "or emptied): keys without a policy have no limits, cache or guardrails",
                    trigger,
                    new.policies_dir,
                )
            runtime = await asyncio.to_thread(build_runtime, keep_restart_only(old, new))
            self.services.runtime = runtime  # the swap: one assignment
            self._secrets = secrets
            # The pools no provider uses now close once the old config's requests are over.
            self.services.network.retire_unused(
                runtime.config.providers.values(), old.server.request_timeout_s + 1.0
            )
            watched = (_directories(old), _secret_files(old))
            if watched != (_directories(runtime.config), _secret_files(runtime.config)):
                # The config names other policies or prompts directories, or reads secrets
                # from other files: watch those now.
                self._rewatch = True
                self._watching.set()
            self.services.recorder.reconfigure(runtime.config.logging)
            # This reload's own line already goes to the new trail, rotated as now configured.
            self.audit = _audit_log(runtime.config.logging)
            for model in runtime.config.models.values():
                for deployment in model.deployments:
                    self.services.metrics.deployment_up.labels(deployment.name).set(1)
            self.services.metrics.config_reloads.labels("ok").inc()
            self.status.version, self.status.loaded_at = new.version, time.time()
            self.status.last_result, self.status.last_error = "ok", None
            log.warning("config reloaded (%s): version %s", trigger, new.version)
            self.publish()
            return {
                "result": "ok",
                "version": new.version,
                "problems": [],
                "restart_required": self.status.restart_required,
            }

    def _load(self, directories: tuple[Path, Path]) -> tuple[GatewayConfig, bytes]:
        """The config as the files are now, and a digest of the secrets it reads (files, in a
        worker thread like the config's)."""
        new = load_settled(self.path, directories)
        return new, secrets_digest(new, ENVIRONMENT)

    def publish(self) -> None:
        """Tell the other workers and the supervisor (through the run directory) which version
        this one serves. Called once the worker answers SIGHUP by a reload: the supervisor
        holds the signal for a worker that has not published yet (its default action kills)."""
        if self.run_dir is None:
            return
        data = {
            "pid": os.getpid(),
            "version": self.status.version,
            "loaded_at": self.status.loaded_at,
        }
        target = worker_file(self.run_dir, os.getpid())
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, target)
        touch(target)  # its mtime is the heartbeat's (gateway/worker_heartbeat.py)

    def serving(self) -> None:
        """This worker serves: publish its version, and beat while its event loop turns."""
        self.publish()
        if self.run_dir is not None:
            path = worker_file(self.run_dir, os.getpid())
            self._beat = asyncio.get_running_loop().create_task(beat(path))

    def workers(self) -> list[dict[str, Any]]:
        """Every live worker's config version (this one alone without a run directory)."""
        if self.run_dir is None:
            return [
                {
                    "pid": os.getpid(),
                    "version": self.status.version,
                    "loaded_at": self.status.loaded_at,
                }
            ]
        return live_workers(self.run_dir)

    def watched_paths(self) -> list[Path]:
        config = self.services.runtime.config
        paths = {_resolved(self.path.parent)}
        for directory in (config.policies_dir, config.prompts_dir):
            if directory.is_dir():
                paths.add(_resolved(directory))
        for directory in (config.policies_dir, config.prompts_dir):
            if directory.parent.is_dir():
                paths.add(_resolved(directory.parent))
        for secret in _secret_files(config):
            if secret.parent.is_dir():
                paths.add(secret.parent.absolute())
        return sorted(paths)

    def _relevant(self, change: Any, path: str) -> bool:
        """The config file, a policy or prompt file, the policies or prompts directory itself
        (made, replaced or removed), a file a secret is read from, or a `..data` symlink swap
        (Kubernetes ConfigMaps and secrets)."""
        candidate = Path(path)
        if candidate.name == self.path.name or candidate.name.startswith(".."):
            return True
        config = self.services.runtime.config
        for secret in _secret_files(config):
            if candidate.name == secret.name and candidate.parent == secret.parent.absolute():
                return True
        for directory in (config.policies_dir, config.prompts_dir):
            if candidate in (directory, _resolved(directory)):
                self._rewatch = True
                return True
        watched = (_resolved(config.policies_dir), _resolved(config.prompts_dir))
        return _resolved(candidate.parent) in watched and candidate.suffix == ".toml"

    async def watch(self) -> None:
        from watchfiles import awatch

        polling = False
        catch_up = False
        while not self._stop.is_set():
            try:
                if self._rewatch:
                    self._rewatch = False
                    # Edits made while the directories were being swapped.
                    await self.reload("policies directory replaced")
                    # And those made after that read but before the new watcher started, which
                    # no watcher sees (a busy machine widens the gap): read once more when the
                    # new watcher has run for a timeout with nothing to say.
                    catch_up = True
                self._watching = asyncio.Event()
                async for changes in awatch(
                    *self.watched_paths(),
                    stop_event=self._watching,
                    debounce=DEBOUNCE_MS,
                    step=50,
                    rust_timeout=CATCH_UP_MS,
                    yield_on_timeout=catch_up,
                    recursive=False,
                    watch_filter=self._relevant,
                    # None: as the WATCHFILES_FORCE_POLLING variable says.
                    force_polling=True if polling else None,
                    poll_delay_ms=POLL_MS,
                ):
                    if not changes:  # a timeout (asked for while catching up)
                        if catch_up:
                            catch_up = False
                            await self.reload("policies directory replaced")
                        continue
                    catch_up = False  # this reload reads everything as it is now
                    await self.reload("file change")
                    if self._rewatch:
                        break
            except Exception as exc:  # noqa: BLE001 - any failure: say so, watch on
                error = f"{type(exc).__name__}: {exc}"
                if error != self.status.watcher_error:  # once per distinct error, not per retry
                    log.exception("config watcher failed; watching again")
                self.status.watcher_error = error
                if not polling:  # the native watcher cannot run here: poll, at once
                    polling = True
                    self.status.watcher = "polling"
                    log.warning("config watcher: polling the files every %d ms", POLL_MS)
                    continue
                await asyncio.sleep(1)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.watch())

    async def aclose(self) -> None:
        self._stop.set()
        self._watching.set()
        if self._beat is not None:
            self._beat.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.run_dir is not None:
            with contextlib.suppress(OSError):
                (self.run_dir / f"worker-{os.getpid()}.json").unlink()


def live_workers(run_dir: Path) -> list[dict[str, Any]]:
    """What each live worker published in `run_dir` (its pid, config version, load time);
    the files of workers that are gone, or unreadable, are passed over."""
    found = []
    for path in sorted(run_dir.glob("worker-*.json")):
        try:
            data = json.loads(path.read_text())
            os.kill(int(data["pid"]), 0)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        found.append(data)
    return found
