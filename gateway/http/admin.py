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
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.config.secret_env import ENVIRONMENT
from gateway.errors import (
    AuthenticationError,
    GatewayError,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    unexpected,
)
from gateway.http.admin_config import masked_config
from gateway.http.methods import any_method
from gateway.http.refusals import RateLimitedLog
from gateway.observability.audit import admin_id, latest
from gateway.observability.log_reader import UsageError, parse_time
from gateway.observability.log_stats import parse_by
from gateway.observability.usage_process import UsageScanFailed, UsageScanner
from gateway.observability.usage_scan import UsageQuery
from gateway.pipeline.services import Services
from gateway.prompts import view as prompt_views
from gateway.quoted_text import quoted
from gateway.reload import Reloader
from gateway.scrub import REDACTED, Secrets
from gateway.state import StateUnavailable

Handler = Callable[[Request], Awaitable[Response]]

log = logging.getLogger("gateway.admin")


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
        raise InvalidRequest(f"since: {quoted(exc)}", param="since") from None


AUDIT_LIMIT = 1000  # entries `/admin/audit` answers by default
AUDIT_LIMIT_MAX = 10_000


def parse_limit(value: str | None) -> int:
    """`/admin/audit`'s `limit`: a whole number from 1 to `AUDIT_LIMIT_MAX`; default
    `AUDIT_LIMIT`."""
    if value is None or value == "":
        return AUDIT_LIMIT
    # At most 6 digits before int(): Python refuses to convert one of over 4,300 (a 500).
    digits = value.isascii() and value.isdigit() and len(value) <= 6
    if not digits or not 1 <= int(value) <= AUDIT_LIMIT_MAX:
        raise InvalidRequest(
            f"limit: a whole number from 1 to {AUDIT_LIMIT_MAX}, got {value[:40]!r}", param="limit"
        )
    return int(value)


def usage_query(
    path: Path, backups: int, since: float, key: str | None, team: str | None, by: str | None
) -> UsageQuery:
    """The scan `/admin/usage` asks for; `by` (`?by=user,tag:feature,session`) checked here."""
    try:
        names = parse_by(by) if by else ()
    except UsageError as exc:
        raise InvalidRequest(str(exc).replace("--by", "by"), param="by") from None
    return {
        "path": str(path),
        "backups": backups,
        "since": since,
        "key": key,
        "team": team,
        "by": list(names),
    }


class AdminAPI:
    def __init__(
        self, services: Services, reloader: Reloader, scanner: UsageScanner | None = None
    ) -> None:
        self.services = services
        self.reloader = reloader
        self.scanner = scanner or UsageScanner()
        self._allowed: dict[str, list[str]] = {}  # path -> methods, filled by routes()
        self._refusal_log = RateLimitedLog(log)

    def _authorized(self, request: Request) -> GatewayError | None:
        env_name = self.services.runtime.config.admin.key_env
        expected = ENVIRONMENT.get(env_name) if env_name else None
        if not expected:
            return NotFound(
                "the admin API is disabled (set [admin] key_env)", code="admin_disabled"
            )
        headers = request.headers.getlist("authorization")
        if len(headers) > 1:  # which one a proxy in front checked is unknown: take none
            return AuthenticationError(
                "the admin key was sent in several headers: send one 'Authorization' header"
            )
        scheme, _, token = (headers or [""])[0].partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return AuthenticationError(
                "the admin API needs 'Authorization: Bearer <admin key>'", code="missing_api_key"
            )
        presented = hashlib.sha256(token.strip().encode()).digest()
        if not hmac.compare_digest(presented, hashlib.sha256(expected.encode()).digest()):
            return AuthenticationError("invalid admin key")
        return None

    def guarded(self, handler: Handler, audited: bool = True) -> Handler:
        """`handler` behind the admin key; each authorized call leaves an audit line, a failed
        one too. Refused ones have no line (the trail names who acted, and a flood of guesses must
        not fill the disk): they are counted (`gateway_admin_refusals_total{reason}`) and logged,
        a WARNING a second per reason at most. A bug in a handler answers 500 `internal_error`
        in the API's shape, not a page."""

        async def endpoint(request: Request) -> Response:
            refusal = self._authorized(request)
            if refusal is not None:
                self._count_refusal(request, refusal)
                return _error(refusal)
            try:
                response = await handler(request)
            except GatewayError as error:
                response = _error(error)
            except Exception as exc:  # a bug: answered in the API's shape, logged and audited
                log.exception("admin %s %s failed", request.method, request.url.path)
                response = _error(unexpected(exc))
            if audited:
                self.reloader.audit.write(
                    self._who(request),
                    "admin_api",
                    method=request.method,
                    target=self._secrets.scrub(request.url.path),
                    query=self._audited_query(request),
                    status=response.status_code,
                )
            return response

        return endpoint

    def _count_refusal(self, request: Request, refusal: GatewayError) -> None:
        reason = refusal.kind
        self.services.metrics.admin.refusals.labels(reason).inc()
        peer = request.client.host if request.client else "unknown"
        # The caller chose the path, decoded (`%0D` is a carriage return): quoted and cut, so it
        # can neither forge a log line nor make a long one.
        path = repr(request.url.path[:200])
        self._refusal_log.warning(
            reason,
            f"admin API refused {request.method} {path} from {peer}: {refusal.status} {reason}",
        )

    @property
    def _secrets(self) -> Secrets:
        return self.services.runtime.secrets

    def _audited_query(self, request: Request) -> str | None:
        """The query as the trail keeps it: a value that is a gateway key (`?key=` given the
        secret, not the id) `****`, then every known secret and credential shape scrubbed
        (the admin key pasted into the URL)."""
        runtime = self.services.runtime
        pairs = [
            (name, REDACTED if runtime.find_key(value) else value)
            for name, value in request.query_params.multi_items()
        ]
        return self._secrets.scrub(urlencode(pairs, safe="*")) or None

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
        logging_config = self.services.runtime.config.logging
        query = usage_query(
            Path(logging_config.path),
            logging_config.backups,
            since,
            key,
            team,
            request.query_params.get("by"),
        )
        result: dict[str, Any] = {"key": key, "team": team, "since": since}
        # The scan reads the whole request log: in a child process, so that the parse holds
        # neither this worker's event loop nor its GIL (gateway/observability/usage_scan.py).
        try:
            result.update(await self.scanner.scan(query))
        except UsageScanFailed as exc:
            code = "usage_scan_timeout" if exc.timed_out else "usage_scan_failed"
            raise ServiceUnavailable(str(exc), code=code) from None
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
        limit = parse_limit(request.query_params.get("limit"))
        read = self.reloader.audit.read
        entries, truncated = await asyncio.to_thread(lambda: latest(read(since), limit))
        return _json({"since": since, "limit": limit, "truncated": truncated, "entries": entries})

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
        return [*known, Route("/admin/{rest:path}", any_method(self.guarded(self._unknown)))]

    async def _unknown(self, request: Request) -> Response:
        path = request.url.path
        allowed = self._allowed.get(path)
        if allowed:
            raise MethodNotAllowed(
                f"{quoted(request.method)} is not allowed on {quoted(path)}; "
                f"use {' or '.join(allowed)}",
                headers={"allow": ", ".join(allowed)},
            )
        raise NotFound(f"unknown admin route: {quoted(path)}", code="unknown_route")
