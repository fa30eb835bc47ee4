"""gateway.config.load: a config file that cannot be read or parsed, unknown keys, wrong types,
shapes and enum values, each reported as `file:line: message`."""

from __future__ import annotations

from pathlib import Path

from gateway.config import check_config
from tests.unit.config.problems import BASE, SHA, problems


def test_base_is_clean(tmp_path: Path) -> None:
    assert problems(tmp_path, BASE) == []


# -- syntax ----------------------------------------------------------------------------------


def test_toml_syntax_error_has_line_and_no_position_suffix(tmp_path: Path) -> None:
    assert problems(tmp_path, '[server]\nhost = "a"\nport = \n') == ["config.toml:3: Invalid value"]


def test_toml_error_at_end_of_document_points_at_last_line(tmp_path: Path) -> None:
    assert problems(tmp_path, "a = 1\nb = [1,\n") == ["config.toml:2: Invalid value"]


def test_a_key_or_table_written_twice_says_so_at_the_second(tmp_path: Path) -> None:
    """Two lines merged from two edits: the parser's "Cannot overwrite a value" said nothing
    of a duplicate."""
    assert problems(tmp_path, "[server]\nport = 1\nhost = 'a'\nport = 2\n") == [
        "config.toml:4: Cannot overwrite a value: this key is already set in this table "
        "(each key once per table)"
    ]
    assert problems(tmp_path, "[server]\nport = 1\n\n[server]\nhost = 'a'\n") == [
        "config.toml:4: Cannot declare ('server',) twice: a [table] header may appear once; "
        "put all its keys under it"
    ]


def test_missing_config_file(tmp_path: Path) -> None:
    found = [str(p) for p in check_config(tmp_path / "nope.toml", env={})]
    assert found == [f"{tmp_path}/nope.toml:1: cannot read config file: No such file or directory"]


def test_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_bytes(b'a = "x"\nb = "\xff"\n')
    assert [str(p) for p in check_config(path, env={})] == [f"{path}:2: file is not valid UTF-8"]


def test_nesting_too_deep_is_a_problem_not_a_recursion_error(tmp_path: Path) -> None:
    deep = "a = " + "[" * 5000 + "]" * 5000 + "\n"
    assert problems(tmp_path, deep) == ["config.toml:1: arrays or tables nested too deeply"]


def test_integer_of_more_than_4300_digits_is_a_problem(tmp_path: Path) -> None:
    """Python refuses to convert so long a number; tomllib lets its ValueError out."""
    found = problems(tmp_path, "a = 1" + "0" * 5000 + "\n")
    assert len(found) == 1 and found[0].startswith("config.toml:1: Exceeds the limit")


# -- unknown keys and types -------------------------------------------------------------------


def test_unknown_keys_everywhere_name_their_table(tmp_path: Path) -> None:
    text = (
        "colour = 1\n"  # 1
        "[server]\n"  # 2
        "foo = 1\n"  # 3
        "[[providers]]\n"  # 4
        'name = "mock"\n'  # 5
        'type = "mock"\n'  # 6
        "secret = 2\n"  # 7
        "[[models]]\n"  # 8
        'name = "gpt"\n'  # 9
        "cost = 3\n"  # 10
        "[[models.deployments]]\n"  # 11
        'provider = "mock"\n'  # 12
        'model = "x"\n'  # 13
        "[[models.deployments]]\n"  # 14
        'provider = "mock"\n'  # 15
        'model = "y"\n'  # 16
        "timeout = 4\n"  # 17
        "[[keys]]\n"  # 18
        f'id = "k"\nkey_sha256 = "{SHA}"\n'  # 19, 20
        "role = 5\n"  # 21
        "[state]\nbackend = 'memory'\nredis = 1\n"  # 22-24
        "[logging]\nrotate = 1\n"  # 25, 26
        "[admin]\nkey = 'x'\n"  # 27, 28
    )
    assert problems(tmp_path, text) == [
        "config.toml:1: unknown key 'colour' at top level",
        "config.toml:3: unknown key 'foo' in [server]",
        "config.toml:7: unknown key 'secret' in [[providers]] 'mock'",
        "config.toml:10: unknown key 'cost' in [[models]] 'gpt'",
        "config.toml:17: unknown key 'timeout' in [[models]] 'gpt' deployments[1]",
        "config.toml:21: unknown key 'role' in [[keys]] 'k'",
        "config.toml:24: unknown key 'redis' in [state]",
        "config.toml:26: unknown key 'rotate' in [logging]",
        "config.toml:28: unknown key 'key' in [admin]",
    ]


def test_wrong_types(tmp_path: Path) -> None:
    text = BASE + (
        "weight = 'heavy'\n"  # 10
        "[server]\n"  # 11
        'port = "8080"\n'  # 12
        "workers = true\n"  # 13
        "request_timeout_s = false\n"  # 14
        "[logging]\n"  # 15
        "include_bodies = 1\n"  # 16
        "path = 3\n"  # 17
    )
    assert problems(tmp_path, text) == [
        "config.toml:10: models[0].deployments[0].weight: expected number, got string",
        "config.toml:12: server.port: expected integer, got string",
        "config.toml:13: server.workers: expected integer, got boolean",
        "config.toml:14: server.request_timeout_s: expected number, got boolean",
        "config.toml:16: logging.include_bodies: expected boolean, got integer",
        "config.toml:17: logging.path: expected string, got integer",
    ]


def test_integer_past_a_float_where_a_number_is_expected(tmp_path: Path) -> None:
    """float() of it raised OverflowError."""
    text = BASE.replace('model = "mock-small"', f'model = "mock-small"\nweight = 1{"0" * 400}')
    assert problems(tmp_path, text) == [
        "config.toml:10: models[0].deployments[0].weight: must be a finite number, "
        "got an integer too large"
    ]


def test_float_where_integer_expected_is_rejected(tmp_path: Path) -> None:
    assert problems(tmp_path, "[server]\nport = 80.0\n") == [
        "config.toml:2: server.port: expected integer, got float"
    ]


def test_sections_of_the_wrong_shape(tmp_path: Path) -> None:
    text = (
        'server = 1\n[providers]\nname = "x"\n'
        '[[models]]\nname = "m"\nfallbacks = "other"\ndeployments = ["x"]\n'
    )
    assert problems(tmp_path, text) == [
        "config.toml:1: server: expected table, got integer",
        "config.toml:2: providers: expected array of tables ([[providers]]), got table",
        "config.toml:6: models[0].fallbacks: expected array of strings, got string",
        "config.toml:7: models[0].deployments[0]: expected table, got string",
    ]


def test_enum_values(tmp_path: Path) -> None:
    text = BASE.replace('name = "m"\n', 'name = "m"\nstrategy = "fastest"\n') + (
        "[state]\n"  # 11
        'backend = "mysql"\n'  # 12
    )
    assert problems(tmp_path, text) == [
        (
            "config.toml:7: models[0].strategy: must be one of 'weighted', 'round_robin', "
            "'least_busy', 'lowest_latency', 'lowest_cost', 'usage_based', got 'fastest'"
        ),
        "config.toml:12: state.backend: must be one of 'memory', 'redis', got 'mysql'",
    ]
