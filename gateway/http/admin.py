"""The admin API: `/admin/*`, behind a bearer admin key read from `[admin] key_env`.

No admin key configured (or its variable unset): every `/admin/*` path answers 404, the API is
off. A missing or wrong key: 401. No response ever carries a provider key or a gateway key's
hash in full, nor any other secret of the config (`admin_config`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, request_response
from starlette.types import Receive, Scope, Send

from gateway.errors import (
    AuthenticationError,
    GatewayError,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
)
from gateway.http.admin_config import masked_config
from gateway.observability.audit import admin_id
from gateway.observability.log_reader import LogReader, RecordFilter, UsageError, parse_time
from gateway.observability.log_stats import aggregate, parse_by
from gateway.pipeline.services import Services
from gateway.prompts import view as prompt_views
from gateway.reload import Reloader
from gateway.state import StateUnavailable

Handler = Callable[[Request], Awaitable[Response]]


def _json(data: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(data, default=str), status_code=status, media_type="application/json"
    )


def _error(error: GatewayError) -> Response:
    return Response(
        error.body("openai"),
        status_code=error.status,
        headers=error.headers,
        media_type="application/json",
    )


def parse_since(value: str | None, now: float) -> float:
    """`since` as `gateway stats` reads it (ISO-8601, Unix seconds, or `30m` / `2h` / `7d`);
    default 24 h."""
    if not value:
        return now - 86400
    try:
        return parse_time(value, now)
    except UsageError as exc:
        raise InvalidRequest(f"since: {exc}", param="since") from None


def usage_from_log(path: Path, since: float, key: str | None, team: str | None) -> dict[str, Any]:
    """Requests, errors, tokens and spend in the request log since `since` for a key and/or team."""
    totals = {
        "requests": 0,
        "errors": 0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "cost_usd": 0.0,
    }
    if not path.is_file():
        return totals
    for record in LogReader(path):
        if not RecordFilter(since=since, keys=(key,) if key else ()).matches(record):
            continue
        if team and record.get("team") != team:
            continue
        totals["requests"] += 1
        totals["errors"] += int((record.get("status") or 0) >= 400)
        totals["prompt_tokens"] += record.get("prompt_tokens") or 0
        totals["completion_tokens"] += record.get("completion_tokens") or 0
        totals["cost_usd"] += record.get("cost_usd") or 0.0
    totals["cost_usd"] = round(totals["cost_usd"], 10)
    return totals


def usage_groups(
    path: Path, since: float, key: str | None, team: str | None, by: str
) -> tuple[list[str], list[dict[str, Any]]]:
    """`?by=user,tag:feature,session`: the same records grouped as `gateway stats --by` does."""
    try:
        names = parse_by(by)
    except UsageError as exc:
        raise InvalidRequest(str(exc).replace("--by", "by"), param="by") from None
    if not path.is_file():
        return list(names), []
    rfilter = RecordFilter(since=since, keys=(key,) if key else ())
    records = (
        r for r in LogReader(path) if rfilter.matches(r) and (not team or r.get("team") == team)
    )
    return list(names), aggregate(records, names)[0]


class AdminAPI:
    def __init__(self, services: Services, reloader: Reloader) -> None:
        self.services = services
        self.reloader = reloader
        self._allowed: dict[str, list[str]] = {}  # path -> methods, filled by routes()

    def _authorized(self, request: Request) -> GatewayError | None:
        env_name = self.services.runtime.config.admin.key_env
        expected = os.environ.get(env_name) if env_name else None
        if not expected:
            return NotFound(
                "the admin API is disabled (set [admin] key_env)", code="admin_disabled"
            )
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return AuthenticationError(
                "the admin API needs 'Authorization: Bearer <admin key>'", code="missing_api_key"
            )
        presented = hashlib.sha256(token.strip().encode()).digest()
        if not hmac.compare_digest(presented, hashlib.sha256(expected.encode()).digest()):
            return AuthenticationError("invalid admin key")
        return None

    def guarded(self, handler: Handler, audited: bool = True) -> Handler:
        """`handler` behind the admin key; each authorized call leaves an audit line (refused
        ones are logged by the HTTP layer's counters only: the trail names who acted)."""

        async def endpoint(request: Request) -> Response:
            refusal = self._authorized(request)
            if refusal is not None:
                return _error(refusal)
            try:
                response = await handler(request)
            except GatewayError as error:
                response = _error(error)
            if audited:
                self.reloader.audit.write(
                    self._who(request),
                    "admin_api",
                    method=request.method,
                    target=request.url.path,
                    query=str(request.query_params) or None,
                    status=response.status_code,
                )
            return response

        return endpoint

    def _who(self, request: Request) -> str:
        _, _, token = request.headers.get("authorization", "").partition(" ")
        return admin_id(token.strip())

    async def config(self, request: Request) -> Response:
        return _json(masked_config(self.services.runtime))

    async def config_status(self, request: Request) -> Response:
        status = dataclasses.asdict(self.reloader.status)
        status["source"] = str(self.services.runtime.config.source)
        status["workers"] = self.reloader.workers()
        status["workers_agree"] = len({w["version"] for w in status["workers"]}) <= 1
        return _json(status)

    async def reload(self, request: Request) -> Response:
        result = await self.reloader.reload("admin API", self._who(request))
        return _json(result, 200 if result["result"] != "error" else 422)

    async def deployments(self, request: Request) -> Response:
        config = self.services.runtime.config
        names = [d.name for m in config.models.values() for d in m.deployments]
        try:
            breakers = await self.services.state.breaker_states(names, time.time())
        except StateUnavailable:
            breakers = {}
        rows = []
        for model in config.models.values():
            for deployment in model.deployments:
                breaker = breakers.get(deployment.name)
                rows.append(
                    {
                        "model": model.name,
                        "deployment": deployment.name,
                        "weight": deployment.weight,
                        "health": breaker.state if breaker else "unknown",
                        "recent_failures": breaker.failures if breaker else None,
                        "cooldown_remaining_s": round(breaker.cooldown_remaining_s, 3)
                        if breaker
                        else None,
                        **self.services.stats.snapshot(deployment.name),
                    }
                )
        return _json({"deployments": rows})

    async def usage(self, request: Request) -> Response:
        key = request.query_params.get("key") or None
        team = request.query_params.get("team") or None
        now = time.time()
        since = parse_since(request.query_params.get("since"), now)
        log_path = self.services.runtime.config.logging.path
        result: dict[str, Any] = {"key": key, "team": team, "since": since}
        # The scans read the whole request log: off the event loop, so requests go on meanwhile.
        result.update(await asyncio.to_thread(usage_from_log, Path(log_path), since, key, team))
        by = request.query_params.get("by")
        if by:
            result["by"], result["groups"] = await asyncio.to_thread(
                usage_groups, Path(log_path), since, key, team, by
            )
        state = self.services.state
        try:
            if key:
                result["key_spend"] = await state.spend("key", key, now)
                result["key_window"] = await state.usage("key", key, now)
            if team:
                result["team_spend"] = await state.spend("team", team, now)
        except StateUnavailable:
            result["state"] = "unavailable"
        return _json(result)

    async def audit(self, request: Request) -> Response:
        since = parse_since(request.query_params.get("since"), time.time())
        entries = await asyncio.to_thread(lambda: list(self.reloader.audit.read(since)))
        return _json({"since": since, "entries": entries})

    async def prompts(self, request: Request) -> Response:
        return _json(prompt_views.registry(self.services.runtime.config.prompts))

    def routes(self) -> list[Route]:
        known = [
            Route("/admin/config", self.guarded(self.config), methods=["GET"]),
            Route("/admin/config/status", self.guarded(self.config_status), methods=["GET"]),
            # The reload's own audit line names the admin: one line per admin reload.
            Route("/admin/reload", self.guarded(self.reload, audited=False), methods=["POST"]),
            Route("/admin/deployments", self.guarded(self.deployments), methods=["GET"]),
            Route("/admin/usage", self.guarded(self.usage), methods=["GET"]),
            Route("/admin/prompts", self.guarded(self.prompts), methods=["GET"]),
            Route("/admin/audit", self.guarded(self.audit), methods=["GET"]),
        ]
        self._allowed = {route.path: sorted(route.methods or ()) for route in known}
        # Every other method and path, behind the key too (401 before 404 or 405), and audited.
        return [*known, Route("/admin/{rest:path}", _AnyMethod(self.guarded(self._unknown)))]

    async def _unknown(self, request: Request) -> Response:
        path = request.url.path
        allowed = self._allowed.get(path)
        if allowed:
            raise MethodNotAllowed(
                f"{request.method} is not allowed on {path}; use {' or '.join(allowed)}",
                headers={"allow": ", ".join(allowed)},
            )
        raise NotFound(f"unknown admin route: {path}", code="unknown_route")


class _AnyMethod:
    """`handler` as an ASGI app: a Route given one (not a function) matches every method."""

    def __init__(self, handler: Handler) -> None:
        self.app = request_response(handler)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
