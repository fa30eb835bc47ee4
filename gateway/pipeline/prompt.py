"""The prompt stage: a request that names a registered prompt gets its version rendered in."""

from __future__ import annotations

from dataclasses import replace

from gateway.errors import InvalidRequest
from gateway.pipeline.attribution import header_text
from gateway.pipeline.context import RequestContext
from gateway.pipeline.services import Services
from gateway.prompts.apply import TAKES_PROMPTS, PromptUse, apply
from gateway.prompts.render import render
from gateway.prompts.select import HEADER, OPENAI_STORED, choose, requested


async def use_prompt(ctx: RequestContext, services: Services) -> None:
    """Render the prompt the body's `prompt` field or the `x-gateway-prompt` header names
    (400 for a bad reference or variables, 404 for an unknown prompt, version or alias)."""
    assert ctx.body is not None and ctx.key is not None
    # A legacy completion's `prompt` is the text to complete, never a registry reference.
    named_in = {} if ctx.endpoint.kind == "completions" else ctx.body
    ref = requested(named_in, header_text(ctx.headers.get(HEADER)))
    if ref is None or _hosted_by_openai(ctx, ref.id):
        return
    if ctx.endpoint.kind not in TAKES_PROMPTS:
        # Refused before a version is chosen: the request used none, so none is attributed.
        raise InvalidRequest(
            f"prompts cannot be used on this endpoint ({ctx.endpoint.path})",
            param="prompt",
            code="invalid_prompt",
        )
    sticky = f"user:{ctx.user}" if ctx.user else f"key:{ctx.key.id}"
    prompt, version, alias = choose(ctx.runtime.config.prompts, ref, sticky)
    # Attributed before it is rendered: a request refused for its variables or params is
    # counted against the version it got (in the record and the per-prompt metrics), with no
    # hash since none of the version's content was used.
    ctx.prompt = PromptUse(prompt.id, version.version, alias, None, dict(ref.variables))
    rendered = render(prompt.id, version, ref.variables)
    use = replace(ctx.prompt, hash=version.hash)
    ctx.body, ctx.prompt = apply(ctx.body, ctx.endpoint.kind, rendered, use, version)


def _hosted_by_openai(ctx: RequestContext, prompt_id: str) -> bool:
    """A Responses API request naming a prompt stored at OpenAI (`pmpt_...`) that the registry
    does not hold: the field is OpenAI's own and goes upstream untouched."""
    return (
        ctx.endpoint.kind == "responses"
        and prompt_id.startswith(OPENAI_STORED)
        and prompt_id not in ctx.runtime.config.prompts
    )
