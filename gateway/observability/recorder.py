"""Request-record sinks. The JSONL sink writes from a background thread and never blocks the loop.

`write()` serialises on the caller's thread (microseconds with orjson) and hands the line to a
writer thread through a queue; a record with bodies (`include_bodies`), or any record when a
`transform` is set (PII redaction), is handed over as it is, and scrubbed of secrets
(`body_scrub`), transformed and serialised in the writer thread; `close()` drains every queued
line before returning, so a graceful shutdown loses nothing. Each batch is one `write()` on an
O_APPEND file, so several worker processes can share one log without interleaving lines.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, cast

from gateway.config.types import LoggingConfig
from gateway.observability.body_scrub import BODY_FIELDS, scrub_bodies
from gateway.observability.record_json import record_line
from gateway.rotating_files import RotatingFile, Rotation
from gateway.scrub import Secrets

log = logging.getLogger("gateway.records")
_STOP = object()
# Records written on the event loop are handed to the writer thread in batches, at most this
# long after the first of a batch. Every hand-off wakes the thread, and a woken thread competes
# for the GIL with the event loop (futex round trips on both sides): at 2 ms the loop paid ~5
# of them per request at concurrency 1; at 50 ms a line still reaches the file within 50 ms.
HANDOFF_DELAY_S = 0.05


class RecordSink(Protocol):
    def write(self, record: dict[str, Any], body_secrets: Secrets | None = None) -> None:
        """Write `record`; `body_secrets`: the scrubber of its request's config, when it holds
        bodies (`BODY_FIELDS`), which are scrubbed with it before they are written."""

    def reconfigure(self, settings: LoggingConfig) -> None:
        """Apply a reloaded `[logging]`'s `max_bytes`, `backups` and `record_batch_ms` (the
        sink's path and redaction stay as built: restart-only, gateway/config/reloadable.py)."""

    def close(self) -> None: ...


class MemorySink:
    """Keeps records in a list: for tests."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def write(self, record: dict[str, Any], body_secrets: Secrets | None = None) -> None:
        self.records.append(record if body_secrets is None else scrub_bodies(record, body_secrets))

    def reconfigure(self, settings: LoggingConfig) -> None:
        pass

    def close(self) -> None:
        pass


class JsonlSink:
    """`max_bytes` > 0 rotates the file past that size, keeping `backups` old files
    (`path.1` newest); several processes may share one path (gateway/rotating_files.py:
    no line is lost or written twice across a rotation)."""

    def __init__(
        self,
        path: Path,
        max_bytes: int = 0,
        backups: int = 5,
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        handoff_delay_s: float = HANDOFF_DELAY_S,
        on_record_error: Callable[[], None] | None = None,
    ) -> None:
        """`transform` (e.g. PII redaction) runs on each record in the writer thread, after the
        secret scrub of its bodies. `handoff_delay_s` 0: a line is written by the caller at
        once, with no transform and no bodies (else the record goes to the writer thread at
        once). `on_record_error` is called for each
        record written with fields replaced (a metric)."""
        self.handoff_delay_s = handoff_delay_s
        self._write_lock = threading.Lock()
        self.path = path
        self.transform = transform
        self.on_record_error = on_record_error
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = RotatingFile(path, max_bytes, backups)
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._pending: list[object] = []
        self._handoff_scheduled = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="record-writer", daemon=True)
        self._thread.start()

    def write(self, record: dict[str, Any], body_secrets: Secrets | None = None) -> None:
        # A record to scrub or transform is serialised in the writer thread, after that.
        line: object
        if body_secrets is not None or self.transform is not None:
            line = (record, body_secrets)
        else:
            line = self._line(record)
        if self.handoff_delay_s <= 0:
            if isinstance(line, bytes):
                with self._write_lock:  # one write() to the page cache: survives a SIGKILL
                    self._write_all(line)
            else:
                self._queue.put(line)
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._queue.put(line)  # not on an event loop: hand it over at once
            return
        # On the loop, gather lines for a moment: one wake-up of the writer thread per batch
        # instead of one per request.
        self._pending.append(line)
        if not self._handoff_scheduled:
            self._handoff_scheduled = True
            loop.call_later(self.handoff_delay_s, self._handoff)

    def reconfigure(self, settings: LoggingConfig) -> None:
        """Called on the event loop, while the writer thread may be rotating: the rotation
        settings are swapped as one object (`RotatingFile.rotation`), the hand-off delay is
        read on the loop only. Lines gathered under the old delay are handed over now."""
        self._file.rotation = Rotation(settings.max_bytes, settings.backups)
        self._handoff()
        self.handoff_delay_s = settings.record_batch_ms / 1000

    def _line(self, record: dict[str, Any]) -> bytes:
        line, repaired = record_line(record)
        if repaired and self.on_record_error is not None:
            self.on_record_error()
        return line

    def _handoff(self) -> None:
        self._handoff_scheduled = False
        if self._pending:
            pending, self._pending = self._pending, []
            self._queue.put(pending)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            batch: list[object] = []
            stop = item is _STOP
            if not stop:
                batch.append(item)
            # Take whatever else is queued so a burst costs one syscall.
            while not stop:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                else:
                    batch.append(more)
            if batch:
                data = b"".join(self._serialise(item) for item in batch)
                with self._write_lock:
                    self._write_all(data)
            if stop:
                return

    def _serialise(self, item: object) -> bytes:
        """Queued items are a line, a (record, its body secrets) to scrub and transform, or a
        list of these (a batch gathered on the loop)."""
        if isinstance(item, bytes):
            return item
        if isinstance(item, list):
            return b"".join(self._serialise(each) for each in item)
        record, body_secrets = cast(tuple[dict[str, Any], Secrets | None], item)
        try:
            if body_secrets is not None:
                record = scrub_bodies(record, body_secrets)
            if self.transform is not None:
                record = self.transform(record)
        except Exception:
            log.exception("record transform failed; writing the record without bodies")
            record = {k: v for k, v in record.items() if k not in BODY_FIELDS}
        return self._line(record)

    def _write_all(self, data: bytes) -> None:
        try:
            self._file.append(data)
        except OSError:
            log.exception("cannot write request records to %s", self.path)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._handoff()
        self._queue.put(_STOP)
        self._thread.join()
        self._file.close()
