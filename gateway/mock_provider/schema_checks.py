"""OpenAI's check of a request's function tool schemas: every `pattern` in a function's
`parameters` is compiled with Python's `re` (JSON Schema's `regex` format, as jsonschema checks
it), and a request with one that does not compile is refused whole, 400
`invalid_function_parameters`: "Invalid schema for function 'Artifact': '<pattern>' is not a
'regex'.", `param` `tools[<i>].parameters` (Claude Code's JavaScript-dialect `\\p{Cc}` is
one). Chat's tools nest the function (`tools[].function`), the Responses API's are flat. More
than 128 tools are refused too ("Invalid 'tools': array too long. ...")."""

from __future__ import annotations

import re
from collections.abc import Iterator

from gateway.mock_provider.behaviour import RequestError

# The most tools OpenAI takes in one request.
MAX_TOOLS = 128


def check_tool_schemas(tools: object, flat: bool = False) -> None:
    """Raise OpenAI's 400 for more than `MAX_TOOLS` tools, or for the first function whose
    schema has a pattern `re` refuses."""
    if isinstance(tools, list) and len(tools) > MAX_TOOLS:
        raise RequestError(
            f"Invalid 'tools': array too long. Expected an array with maximum length "
            f"{MAX_TOOLS}, but got an array with length {len(tools)} instead.",
            "tools",
            "array_above_max_length",
        )
    for index, tool in enumerate(tools if isinstance(tools, list) else ()):
        function = tool if flat else (tool.get("function") if isinstance(tool, dict) else None)
        if not isinstance(function, dict):
            continue
        for pattern in _patterns(function.get("parameters")):
            try:
                re.compile(pattern)
            except (re.error, OverflowError, RecursionError, ValueError):
                raise RequestError(
                    f"Invalid schema for function '{function.get('name')}': '{pattern}' is "
                    "not a 'regex'.",
                    f"tools[{index}].parameters",
                    "invalid_function_parameters",
                ) from None


def _patterns(schema: object) -> Iterator[str]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            else:
                yield from _patterns(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _patterns(value)
