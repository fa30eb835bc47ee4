"""gateway.config.locate: key paths of a TOML text -> line numbers."""

from __future__ import annotations

import tomllib

import pytest

from gateway.config.locate import Locator, key_lines

TEXT = """\
# a comment with [brackets] and key = value
top = 1
[server]
port = 8080  # trailing comment
"quoted key" = 'x'

[[models]]
name = "a"
fallbacks = [
  "b",
  "c",   # comment inside an array
]
[[models.deployments]]
provider = "p"
[[models.deployments]]
model = \"\"\"
[not_a_header]
x = 1
\"\"\"
weight = 2

[[models]]
name = 'b'
deployments = [{ provider = "q", model = "m" },
  { provider = "r" }]
[models.extra]
a.b.c = 3
"""


def test_fixture_is_valid_toml() -> None:
    tomllib.loads(TEXT)


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (("top",), 2),
        (("server",), 3),
        (("server", "port"), 4),
        (("server", "quoted key"), 5),
        (("models", 0), 7),
        (("models", 0, "name"), 8),
        (("models", 0, "fallbacks"), 9),
        (("models", 0, "fallbacks", 0), 10),
        (("models", 0, "fallbacks", 1), 11),
        (("models", 0, "deployments", 0), 13),
        (("models", 0, "deployments", 0, "provider"), 14),
        (("models", 0, "deployments", 1), 15),
        (("models", 0, "deployments", 1, "model"), 16),
        (("models", 0, "deployments", 1, "weight"), 20),
        (("models", 1), 22),
        (("models", 1, "name"), 23),
        (("models", 1, "deployments", 0, "provider"), 24),
        (("models", 1, "deployments", 0, "model"), 24),
        (("models", 1, "deployments", 1, "provider"), 25),
        (("models", 1, "extra"), 26),
        (("models", 1, "extra", "a", "b", "c"), 27),
    ],
)
def test_exact_paths(path: tuple[str | int, ...], line: int) -> None:
    assert Locator(TEXT).line(path) == line


def test_text_inside_multiline_strings_is_not_a_header() -> None:
    assert ("not_a_header",) not in key_lines(TEXT)
    assert ("models", 0, "deployments", 1, "x") not in key_lines(TEXT)


def test_missing_key_falls_back_to_its_table_header() -> None:
    locator = Locator(TEXT)
    assert locator.line(("server", "workers")) == 3
    assert locator.line(("models", 0, "deployments", 1, "rpm")) == 15
    assert locator.line(("models", 0, "fallbacks", 7)) == 9


def test_unknown_path_falls_back_to_line_one() -> None:
    assert Locator(TEXT).line(("state", "backend")) == 1
    assert Locator("").line(("anything",)) == 1


def test_array_of_tables_counters_are_per_parent_element() -> None:
    lines = key_lines("[[a]]\n[[a.b]]\n[[a.b]]\n[[a]]\n[[a.b]]\nx = 1\n")
    assert lines[("a", 0, "b", 1)] == 3
    assert lines[("a", 1, "b", 0)] == 5
    assert lines[("a", 1, "b", 0, "x")] == 6


def test_explicit_table_header_beats_implicit_definition() -> None:
    lines = key_lines("[a.b]\nx = 1\n[a]\ny = 2\n")
    assert lines[("a",)] == 3
    assert lines[("a", "b")] == 1


def test_dotted_keys_record_each_prefix() -> None:
    lines = key_lines('[t]\nsite."google.com" = true\n')
    assert lines[("t", "site")] == 2
    assert lines[("t", "site", "google.com")] == 2


def test_strings_with_escapes_and_quotes() -> None:
    text = 'a = "say \\"hi\\" [x]"\nb = \'c:\\\\path\'\nc = """two ""quotes"" """\nd = 4\n'
    lines = key_lines(text)
    assert (lines[("a",)], lines[("b",)], lines[("c",)], lines[("d",)]) == (1, 2, 3, 4)


def test_crlf_line_endings() -> None:
    lines = key_lines('[server]\r\nport = 1\r\nhost = "h"\r\n')
    assert lines[("server", "host")] == 3


def test_invalid_toml_keeps_what_was_found() -> None:
    lines = key_lines("a = 1\nb = = 2\nc = 3\n")
    assert lines[("a",)] == 1
    assert Locator("a = 1\nb = = 2\n").line(("c",)) == 1
