"""docs/mock-provider.md names every model the mock provider lists or treats specially."""

from __future__ import annotations

from pathlib import Path

from gateway.mock_provider.decisions import FAULT_MODELS
from gateway.mock_provider.render import MODEL_IDS

DOC = Path(__file__).resolve().parents[3] / "docs" / "mock-provider.md"


def test_every_mock_model_name_is_documented() -> None:
    text = DOC.read_text()
    missing = [name for name in sorted({*MODEL_IDS, *FAULT_MODELS}) if f"`{name}`" not in text]
    assert missing == []


def test_every_fault_model_is_listed_by_the_models_endpoint() -> None:
    assert FAULT_MODELS <= set(MODEL_IDS)
