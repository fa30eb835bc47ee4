"""Log lines without secrets: every log record of the process is scrubbed as it is made.

Upstream text reaches log lines through exception messages and tracebacks (a failed call, a
malformed answer). Rather than scrubbing at each `log.*` call, the gateway installs a log record
factory (the stdlib hook made for this, `logging.setLogRecordFactory`) whose records format
their message, traceback and stack with the current `Secrets` applied, whatever logger or
handler writes them (uvicorn's, the lastResort handler, an operator's dictConfig).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

from gateway.scrub import NO_SECRETS, Secrets

_current: Callable[[], Secrets] = lambda: NO_SECRETS  # noqa: E731 - replaced by install
_installed = False


class ScrubbedLogRecord(logging.LogRecord):
    """A log record whose message, traceback and stack text carry no secret."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        secrets = _current()
        if self.exc_info and self.exc_info[0] is not None:
            # Formatters use a record's exc_text when it is set: set it, scrubbed.
            text = "".join(traceback.format_exception(*self.exc_info)).rstrip("\n")
            self.exc_text = secrets.scrub(text)
        if self.stack_info:
            self.stack_info = secrets.scrub(self.stack_info)

    def getMessage(self) -> str:  # noqa: N802 - the stdlib's name
        return _current().scrub(super().getMessage())


def install_log_scrubber(current: Callable[[], Secrets]) -> None:
    """Scrub every log record made from now on with `current()` (called per record, so a config
    reload's new secrets apply at once); a second call only replaces `current`."""
    global _current, _installed
    _current = current
    if not _installed:
        _installed = True
        logging.setLogRecordFactory(ScrubbedLogRecord)
