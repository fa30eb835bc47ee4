"""The package's shape: every public function and class says what it promises."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import gateway.providers.anthropic as package
from gateway.providers.anthropic.errors import StreamTranslationError, TranslationError

MODULES = sorted(info.name for info in pkgutil.iter_modules(package.__path__))


def test_the_package_docstring_lists_every_module() -> None:
    assert package.__doc__
    assert "adapters" in MODULES and "errors" in MODULES  # the walk found the modules
    for name in MODULES:
        assert f"`{name}`" in package.__doc__, f"{name} is missing from the package docstring"


@pytest.mark.parametrize("name", MODULES)
def test_public_members_have_docstrings(name: str) -> None:
    module = importlib.import_module(f"{package.__name__}.{name}")
    assert module.__doc__, f"{name} needs a module docstring"
    for attr, member in vars(module).items():
        defined_here = getattr(member, "__module__", None) == module.__name__
        if attr.startswith("_") or not defined_here:
            continue
        if inspect.isfunction(member) or inspect.isclass(member):
            assert member.__doc__, f"{name}.{attr} needs a docstring"


def test_a_translation_error_is_a_value_error_and_a_stream_error_keeps_the_type() -> None:
    assert issubclass(TranslationError, ValueError)
    error = StreamTranslationError("busy", "overloaded_error")
    assert (str(error), error.error_type) == ("busy", "overloaded_error")
