"""Request-record sinks. The JSONL sink writes from a background thread and never blocks the loop.

`write()` serialises on the caller's thread (microseconds with orjson) and hands the line to a
writer thread through a queue; `close()` drains every queued line before returning, so a
graceful shutdown loses nothing. Each batch is one `write()` on an O_APPEND file, so several
worker processes can share one log without interleaving lines.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from pathlib import Path
from typing import Any, Protocol

import orjson

log = logging.getLogger("gateway.records")
_STOP = object()


class RecordSink(Protocol):
    def write(self, record: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class MemorySink:
    """Keeps records in a list: for tests."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def write(self, record: dict[str, Any]) -> None:
        self.records.append(record)

    def close(self) -> None:
        pass


class JsonlSink:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="record-writer", daemon=True)
        self._thread.start()

    def write(self, record: dict[str, Any]) -> None:
        line = orjson.dumps(record, default=str) + b"\n"
        self._queue.put(line)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            batch: list[bytes] = []
            stop = item is _STOP
            if not stop:
                batch.append(item)  # type: ignore[arg-type]
            # Take whatever else is queued so a burst costs one syscall.
            while not stop:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                else:
                    batch.append(more)  # type: ignore[arg-type]
            if batch:
                self._write_all(b"".join(batch))
            if stop:
                return

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                written = os.write(self._fd, view)
            except OSError:
                log.exception("cannot write request records to %s", self.path)
                return
            view = view[written:]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join()
        os.close(self._fd)
