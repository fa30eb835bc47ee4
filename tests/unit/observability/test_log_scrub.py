"""Log lines are scrubbed whatever logger or handler writes them."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from gateway.observability import log_scrub
from gateway.scrub import NO_SECRETS, Secrets

KEY = "prov-7f3a9c1e5b2d4a6f8e0c"


@pytest.fixture
def written() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("gateway.test_log_scrub")
    logger.addHandler(handler)
    log_scrub.install_log_scrubber(lambda: Secrets([KEY]))
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        log_scrub.install_log_scrubber(lambda: NO_SECRETS)


def test_message_arguments_and_tracebacks_are_scrubbed(written: io.StringIO) -> None:
    logger = logging.getLogger("gateway.test_log_scrub")
    logger.warning("upstream said %s", f"bad key {KEY}")
    try:
        raise ValueError(f"Incorrect API key provided: {KEY}")
    except ValueError:
        logger.exception("call failed")
    text = written.getvalue()
    assert KEY not in text
    assert "upstream said bad key ****" in text
    assert "ValueError: Incorrect API key provided: ****" in text


def test_the_current_secrets_apply_to_each_record(written: io.StringIO) -> None:
    logger = logging.getLogger("gateway.test_log_scrub")
    log_scrub.install_log_scrubber(lambda: Secrets(["rotated-key-123456"]))
    logger.warning("rotated-key-123456 %s", KEY)
    assert written.getvalue().strip() == f"**** {KEY}"
