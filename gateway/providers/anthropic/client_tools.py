"""Anthropic's schema-less client tools as OpenAI function tools.

Anthropic defines a few tools by type alone (`{"type": "bash_20250124", "name": "bash"}`): Claude
knows their input schemas, the client runs them. An OpenAI-compatible model knows nothing of
them, so they go as function tools with the schema Claude's documentation gives each; the
model's calls come back as `tool_use` blocks of the same name, which the client runs as it
runs Claude's. The text editor (`text_editor_20250728` and earlier), bash and the memory tool
are carried; the server tools (web search and fetch, code execution: run on Anthropic's side)
and the computer tool (screenshots the model must see) are not (`client_tool_function` gives
None).
"""

from __future__ import annotations

from gateway.json_types import JSON

_PATH = {"type": "string", "description": "Absolute path of the file or directory."}
_VIEW_RANGE = {
    "type": "array",
    "items": {"type": "integer"},
    "description": "view: [first, last] line numbers to show (-1 as last: to the end).",
}
_FILE_TEXT = {"type": "string", "description": "create: the whole content of the new file."}
_OLD_STR = {"type": "string", "description": "str_replace: the exact text to replace (once)."}
_INSERT_LINE = {"type": "integer", "description": "insert: the line after which to insert."}


def _text_editor(commands: list[str]) -> JSON:
    return {
        "description": (
            "View, create and edit text files: `view` a file (or list a directory), `create` "
            "a file with `file_text`, `str_replace` `old_str` by `new_str`, `insert` `new_str` "
            "after `insert_line`"
            + (", `undo_edit` the last edit of `path`." if "undo_edit" in commands else ".")
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "command": {"type": "string", "enum": commands},
                "path": _PATH,
                "file_text": _FILE_TEXT,
                "old_str": _OLD_STR,
                "new_str": {
                    "type": "string",
                    "description": "str_replace: the new text; insert: the text to insert.",
                },
                "insert_line": _INSERT_LINE,
                "view_range": _VIEW_RANGE,
            },
            "required": ["command", "path"],
        },
    }


_BASH: JSON = {
    "description": "Run a command in a persistent bash shell; `restart` starts a new shell.",
    "parameters": {
        "type": "object",
        "properties": {
            "command": {"type": "string", "description": "The bash command to run."},
            "restart": {"type": "boolean", "description": "Restart the shell instead."},
        },
    },
}
_MEMORY: JSON = {
    "description": (
        "Your memory directory (/memories), kept across conversations: `view` a file or the "
        "directory, `create` a file, `str_replace` in one, `insert` `insert_text` after "
        "`insert_line`, `delete` a file or directory, `rename` `old_path` to `new_path`."
    ),
    "parameters": {
        "type": "object",
        "properties": {
            "command": {
                "type": "string",
                "enum": ["view", "create", "str_replace", "insert", "delete", "rename"],
            },
            "path": _PATH,
            "view_range": _VIEW_RANGE,
            "file_text": _FILE_TEXT,
            "old_str": _OLD_STR,
            "new_str": {"type": "string", "description": "str_replace: the new text."},
            "insert_line": _INSERT_LINE,
            "insert_text": {"type": "string", "description": "insert: the text to insert."},
            "old_path": {"type": "string", "description": "rename: the current path."},
            "new_path": {"type": "string", "description": "rename: the new path."},
        },
        "required": ["command"],
    },
}
_EDITOR_NOW = ["view", "create", "str_replace", "insert"]
# Tool type -> the function's description and parameters (its name is the tool's `name`).
_CLIENT_TOOLS: dict[str, JSON] = {
    "bash_20241022": _BASH,
    "bash_20250124": _BASH,
    "text_editor_20241022": _text_editor([*_EDITOR_NOW, "undo_edit"]),
    "text_editor_20250124": _text_editor([*_EDITOR_NOW, "undo_edit"]),
    "text_editor_20250429": _text_editor(_EDITOR_NOW),
    "text_editor_20250728": _text_editor(_EDITOR_NOW),
    "memory_20250818": _MEMORY,
}


def client_tool_function(tool: JSON) -> JSON | None:
    """The OpenAI function of one of Anthropic's client tools (`tool`: its type and name), or
    None for a tool type the gateway does not carry."""
    spec = _CLIENT_TOOLS.get(str(tool.get("type")))
    if spec is None or not isinstance(tool.get("name"), str):
        return None
    return {"type": "function", "function": {"name": tool["name"], **spec}}
