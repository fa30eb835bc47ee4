"""Text a client or an upstream wrote, as an error message quotes it: bounded, on one line.

An error message goes to the client, the request record's `error_message` and log lines. A
request whose `model` is 100 kB would otherwise get it back whole in "the model '...' does not
exist", written again to each of those; a newline in it would start a forged line in the text
log. Every message that quotes such text quotes it through `quoted`; an
upstream's own error text is cut with `capped` (`gateway.providers.upstream_errors`), and any
message at all is cut at `MESSAGE_MAX_CHARS` (`gateway.errors.GatewayError`).
"""

from __future__ import annotations

# What of a quoted name (a model, a route, a prompt id, a field) a message keeps.
QUOTE_MAX_CHARS = 256
# What of a whole message is kept: an upstream's prose (OpenAI's run to a few hundred
# characters) and a message quoting a few names fit well within it.
MESSAGE_MAX_CHARS = 4096
# The characters a credential is written with: a cut never leaves part of one behind, which
# the scrubber would no longer know as a secret.
_TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+/=.%\\"
# Characters that end or rewrite a line in a log (C0 and C1 controls, DEL, the Unicode line and
# paragraph separators), written as Python escapes.
_LINE_BREAKERS = {
    code: repr(chr(code))[1:-1] for code in (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029)
}


def capped(text: str, limit: int = QUOTE_MAX_CHARS) -> str:
    """`text` cut to at most `limit` characters, then "... (N more characters)". The cut moves
    back out of a credential-shaped run it falls in, unless that run is all that would be kept
    (a single 100 kB token is cut where it is: its start still names it)."""
    if len(text) <= limit:
        return text
    kept = text[:limit].rstrip(_TOKEN_CHARS) or text[:limit]
    return f"{kept}... ({len(text) - len(kept)} more characters)"


def quoted(value: object, limit: int = QUOTE_MAX_CHARS) -> str:
    """`value` as text for an error message: `capped` at `limit` characters and with its control
    characters and line breaks escaped (`\\n`, `\\x1b`), so it stays on the log line that
    quotes it."""
    return capped(str(value), limit).translate(_LINE_BREAKERS)
