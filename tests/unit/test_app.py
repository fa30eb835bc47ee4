"""The app's warm-up: the tokenizer loaded, the heap frozen, young collections made rare."""

from __future__ import annotations

import gc
from types import SimpleNamespace
from typing import cast

from gateway.app import YOUNG_GC_THRESHOLD, _warm_up
from gateway.pipeline.services import Services


def test_warm_up_reports_ready_with_young_collections_made_rare() -> None:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # Python's default (an app started earlier may have raised it)
    services = SimpleNamespace(ready=False)
    try:
        _warm_up(cast(Services, services), None)
        assert services.ready
        assert gc.get_threshold() == (YOUNG_GC_THRESHOLD, 10, 10)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
