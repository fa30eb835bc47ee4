"""The fuzz tests' gateway: one per test module (`fuzz_harness.Harness`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.http.fuzz_harness import Harness


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    harness = Harness(tmp_path_factory.mktemp("fuzz"))
    yield harness
    harness.close()
