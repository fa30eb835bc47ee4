"""Who a request is for: the end user, gateway tags and the session, read once per request.

- end user: OpenAI's `user` (also on `/v1/responses`), Anthropic's `metadata.user_id`;
- tags: `x-gateway-tags: feature=search,env=prod`, plus on OpenAI routes the string entries of
  the body's `metadata` (the body is forwarded as sent: `metadata` is the provider's field too);
  the header wins on a shared name;
- session: `x-gateway-session-id` (a conversation or session id of the application's).

They go into the record (`user`, `tags`, `session_id`), per-user limits (`[user_limits]`), and
the tag metrics for the tags listed in `[metrics] tag_labels`. Bounds keep them cheap: at most
`MAX_TAGS` tags, names up to 64 characters, values and ids up to 256 (a body `metadata` value up
to 512, OpenAI's own bound for it: a value OpenAI takes is never refused for its length); beyond
that a 400 says which.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.errors import InvalidRequest
from gateway.pipeline.context import RequestContext
from gateway.pipeline.services import Services
from gateway.quoted_text import quoted

TAGS_HEADER = "x-gateway-tags"
SESSION_HEADER = "x-gateway-session-id"
MAX_TAGS = 16
MAX_NAME = 64
MAX_VALUE = 256
# OpenAI's bound on a `metadata` value; the field is the provider's, forwarded as sent.
MAX_METADATA_VALUE = 512


async def attribute(ctx: RequestContext, services: Services) -> None:
    """Pipeline stage: fill `ctx.user`, `ctx.tags` and `ctx.session_id`."""
    body = ctx.body or {}
    metadata = body.get("metadata")
    if metadata is not None or "user" in body:  # else no end user is named (most requests)
        ctx.user = end_user(body)
    header = header_text(ctx.headers.get(TAGS_HEADER))
    if ctx.endpoint.wire != "openai":
        metadata = None
    if header or isinstance(metadata, dict):
        ctx.tags = request_tags(header, metadata if isinstance(metadata, dict) else {})
    session = header_text(ctx.headers.get(SESSION_HEADER))
    if session:
        ctx.session_id = _bounded(session.strip(), MAX_VALUE, SESSION_HEADER)


def header_text(value: str | None) -> str | None:
    """A header the application writes (tags, session, prompt) as the text it meant: header bytes
    arrive as latin-1, and non-ASCII names are sent as UTF-8 (`feature=café` would else be
    recorded and labelled `cafÃ©`); bytes that are not UTF-8 stay as they came."""
    if value is None or value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def end_user(body: Mapping[str, Any]) -> str | None:
    """The end user a request names, or None."""
    user = body.get("user")
    if not isinstance(user, str) or not user:
        metadata = body.get("metadata")
        user = metadata.get("user_id") if isinstance(metadata, dict) else None
    if not isinstance(user, str) or not user:
        return None
    return _bounded(user, MAX_VALUE, "user")


def request_tags(header: str | None, metadata: Mapping[str, Any]) -> dict[str, str]:
    """The request's tags from the header and the body's `metadata` (400 when malformed)."""
    tags = {
        str(name): value
        for name, value in metadata.items()
        if isinstance(value, str) and name != "user_id"
    }
    from_header: set[str] = set()
    for part in (header or "").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise InvalidRequest(
                f"{TAGS_HEADER} takes name=value pairs separated by commas "
                f"(got '{quoted(part.strip())}')",
                param=TAGS_HEADER,
                code="invalid_tags",
            )
        tags[name.strip()] = value.strip()
        from_header.add(name.strip())
    if len(tags) > MAX_TAGS:
        raise InvalidRequest(
            f"at most {MAX_TAGS} tags per request (got {len(tags)})",
            param=TAGS_HEADER,
            code="invalid_tags",
        )
    for name, value in tags.items():
        _bounded(name, MAX_NAME, "a tag name")
        most = MAX_VALUE if name in from_header else MAX_METADATA_VALUE
        _bounded(value, most, f"tag '{name[:MAX_NAME]}'")
    return tags


def _bounded(value: str, limit: int, what: str) -> str:
    if len(value) > limit:
        raise InvalidRequest(
            f"{what} is longer than {limit} characters", param=what, code="invalid_tags"
        )
    return value
