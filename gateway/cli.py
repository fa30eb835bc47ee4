"""The `gateway` command. Thin: each subcommand parses its flags and calls one function."""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from gateway.config.types import GatewayConfig

DEFAULT_CONFIG = "config.example.toml"


def _serve(args: argparse.Namespace) -> int:
    import asyncio

    import uvicorn

    from gateway.app import CONFIG_ENV
    from gateway.config import ConfigError, load_config
    from gateway.config.advice import per_worker_state
    from gateway.http.serving import serving_protocol
    from gateway.observability.multiproc import prepare_metrics_directory
    from gateway.stop_signals import stopped_by_signals_exit_zero
    from gateway.supervisor import run_workers

    path = Path(args.config or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)
    if not path.exists():
        print(f"error: config file {path} not found (pass --config PATH)", file=sys.stderr)
        return 2
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    host = args.host or config.server.host
    port = config.server.port if args.port is None else args.port
    workers = config.server.workers if args.workers is None else args.workers
    # Bind here, before any worker starts, so "listening" is true when printed and
    # `--port 0` can report the port the kernel chose.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # uvicorn rebuilds a socket passed by fd as AF_UNIX, so uvloop never sets TCP_NODELAY on
    # accepted connections; set it here, accepted sockets inherit it (else Nagle + delayed
    # ACK stall every keep-alive request ~40 ms).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except (OSError, TypeError) as exc:  # TypeError: a host name that cannot be encoded
        why = exc.strerror if isinstance(exc, OSError) else str(exc)
        sock.close()
        print(f"error: cannot listen on {host}:{port}: {why}", file=sys.stderr)
        return 1
    sock.listen(2048)
    sock.set_inheritable(True)
    bound_port = sock.getsockname()[1]
    os.environ[CONFIG_ENV] = os.path.abspath(path)
    for warning in _demo_key_warnings(config, host):
        print(warning, file=sys.stderr, flush=True)
    if (shared := per_worker_state(config, workers)) is not None:
        print(shared, file=sys.stderr, flush=True)
    # The temporary directories made here go when the server stops (the operator's stay).
    made = [prepare_metrics_directory(workers), _fresh_run_dir() if workers > 1 else None]
    print(
        f"llm-gateway listening on http://{_url_host(host)}:{bound_port} "
        f"(config {path}, version {config.version}, {workers} worker{'s' if workers > 1 else ''})",
        flush=True,
    )
    # Several workers: uvicorn's supervisor, but SIGHUP reloads (gateway/supervisor.py).
    run: Callable[..., None] = uvicorn.run if workers == 1 else run_workers
    try:
        with stopped_by_signals_exit_zero():  # a drain SIGTERM asked for is a success
            run(
                "gateway.app:create_app_from_env",
                factory=True,
                fd=sock.fileno(),
                workers=workers,
                loop="uvloop",
                # No WebSocket routes: uvicorn need not import a WebSocket library
                # (uvicorn[standard] installs one) at start.
                ws="none",
                # No `server: uvicorn` on every answer: it names the stack to whoever asks.
                server_header=False,
                # The [server] HTTP limits travel with the protocol class (a partial pickles into
                # each worker); they are fixed at start. So do the listening socket and how many of
                # the connections waiting on it a worker takes at once (gateway/http/accept.py).
                http=cast("type[asyncio.Protocol]", serving_protocol(config.server, sock, workers)),
                log_level=args.log_level,
                access_log=False,
                proxy_headers=False,
                lifespan="on",
                timeout_graceful_shutdown=30,
                # Longer than the idle timeout of common clients and load balancers (60 s), so
                # the client, not the gateway, closes idle keep-alive connections and never
                # races a close.
                timeout_keep_alive=75,
            )
    finally:
        sock.close()
        for directory in made:
            if directory is not None:
                shutil.rmtree(directory, ignore_errors=True)
    return 0


def _demo_key_warnings(config: GatewayConfig, host: str) -> list[str]:
    """One line per key that accepts the published demo secret, when the gateway listens
    beyond loopback (as the Docker image does with the demo config)."""
    import ipaddress

    from gateway.config.advice import DEMO_SECRET, demo_keys

    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return []
    return [
        f"warning: key {key_id!r} accepts the published demo secret {DEMO_SECRET} and the "
        f"gateway listens on {host}: anyone who can reach it can use that key; remove it "
        '(README, "Going to production")'
        for key_id in demo_keys(config)
    ]


def _url_host(host: str) -> str:
    """`host` as a URL writes it: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host else host


def _port(text: str) -> int:
    """A TCP port for `--port`: 0 (the kernel picks one) to 65535."""
    port = _integer(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 0 and 65535, got {text}")
    return port


def _workers(text: str) -> int:
    """A worker count for `--workers`, bounded like `[server] workers`."""
    from gateway.config.types import MAX_WORKERS

    workers = _integer(text)
    if not 1 <= workers <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_WORKERS}, got {text}")
    return workers


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _fresh_run_dir() -> str:
    """Workers publish the config version they serve here, so /admin/config/status shows all."""
    import tempfile

    from gateway.reload import RUN_DIR_ENV

    directory = tempfile.mkdtemp(prefix="llm-gateway-run-")
    os.environ[RUN_DIR_ENV] = directory
    return directory


def _check(args: argparse.Namespace) -> int:
    """Every problem (exit 1), else every warning and `ok` (exit 0)."""
    from gateway.config import ConfigError, load_config
    from gateway.config.advice import config_warnings

    try:
        config = load_config(args.path)
    except ConfigError as exc:
        print(exc)
        return 1
    for warning in config_warnings(Path(args.path), config):
        print(warning)
    print(f"ok: {args.path} (version {config.version})")
    return 0


def _mock_provider(args: argparse.Namespace) -> int:
    from gateway.mock_provider.server import run

    run(host=args.host, port=args.port, latency_ms=args.latency_ms, tokens_per_s=args.tokens_per_s)
    return 0


def _keys_hash(args: argparse.Namespace) -> int:
    from gateway.config import hash_key

    # `-`: from stdin, so the key stays out of the shell history and the process list.
    secret = args.secret if args.secret != "-" else _one_line(sys.stdin.read())
    try:
        print(hash_key(secret))
    except ValueError as exc:
        print(f"error: the secret {exc}", file=sys.stderr)
        return 2
    return 0


def _one_line(text: str) -> str:
    """`text` without the one line end `echo` or a file adds (other whitespace is kept, and
    refused by `hash_key`: no header could carry it)."""
    return text.removesuffix("\n").removesuffix("\r")


def _replay(args: argparse.Namespace) -> int:
    from gateway.replay.command import run

    return run(args)


def _stats(args: argparse.Namespace) -> int:
    from gateway.observability.log_stats import run

    return run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gateway", description="llm-gateway: an OpenAI-compatible LLM proxy"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the proxy")
    serve.add_argument(
        "--config", help=f"config file (default: $GATEWAY_CONFIG or {DEFAULT_CONFIG})"
    )
    serve.add_argument("--host")
    serve.add_argument("--port", type=_port, help="0..65535; 0 lets the kernel choose")
    serve.add_argument("--workers", type=_workers, help="worker processes (1..256)")
    serve.add_argument(
        "--log-level", default="warning", choices=["debug", "info", "warning", "error"]
    )
    serve.set_defaults(func=_serve)

    check = commands.add_parser("check", help="validate a config and the policies it names")
    check.add_argument("path")
    check.set_defaults(func=_check)

    mock = commands.add_parser("mock-provider", help="run the built-in fake LLM provider")
    mock.add_argument("--host", default="127.0.0.1")
    mock.add_argument("--port", type=_port, default=9000)
    mock.add_argument("--latency-ms", type=float, default=0.0)
    mock.add_argument("--tokens-per-s", type=float, default=0.0)
    mock.set_defaults(func=_mock_provider)

    keys = commands.add_parser("keys", help="gateway key helpers")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    key_hash = key_commands.add_parser(
        "hash", help="print the sha256 form of a key for [[keys]] key_sha256"
    )
    key_hash.add_argument("secret", help="the key, or - to read it from stdin (kept out of ps)")
    key_hash.set_defaults(func=_keys_hash)

    replay = commands.add_parser(
        "replay", help="re-send logged requests to a model and compare the answers"
    )
    replay.add_argument(
        "log", help="request log (JSONL) written with [logging] include_bodies = true"
    )
    replay.add_argument(
        "--model", help="the model to replay against (default with --prompt: the logged model)"
    )
    replay.add_argument("--prompt", help="replay the requests that used this registered prompt")
    replay.add_argument(
        "--candidate", type=int, help="with --prompt: the version to render in their place"
    )
    replay.add_argument(
        "--base-url", help="a running gateway (default: one in this process, from --config)"
    )
    replay.add_argument(
        "--key", help="gateway key (default: $GATEWAY_API_KEY; in-process: an ephemeral key)"
    )
    replay.add_argument(
        "--config",
        help=f"config for the in-process gateway, and prices (default: {DEFAULT_CONFIG})",
    )
    replay.add_argument("--concurrency", type=int, default=8)
    replay.add_argument("--limit", type=int, help="replay at most N records")
    replay.add_argument(
        "--sample", type=float, help="replay this fraction of the records, e.g. 0.1"
    )
    replay.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    replay.add_argument(
        "--filter-model", action="append", help="only records for this model (repeat or comma list)"
    )
    replay.add_argument(
        "--filter-key", action="append", help="only records of this key id (repeat or comma list)"
    )
    replay.add_argument(
        "--status",
        help="only records with these statuses, e.g. 200 or 5xx,429 (default: successful)",
    )
    replay.add_argument("--since", help="ISO-8601 time or an age like 1h, 30m, 7d")
    replay.add_argument("--until", help="ISO-8601 time or an age like 1h, 30m, 7d")
    replay.add_argument(
        "--report", default="report.json", help="report path; the HTML goes beside it"
    )
    replay.add_argument(
        "--gate", help='e.g. "similarity_mean>=0.9 and cost_ratio<=1.2"; exit 1 when false'
    )
    replay.add_argument(
        "--judge-model", help="score each answer 1-10 with this model through the gateway"
    )
    replay.add_argument("--rubric", help="the judge's rubric (default: a generic one)")
    replay.add_argument(
        "--timeout", type=float, default=120.0, help="seconds per request (default 120)"
    )
    replay.set_defaults(func=_replay)

    stats = commands.add_parser(
        "stats", help="spend, tokens, errors and latency from the request log"
    )
    stats.add_argument(
        "log",
        help="request log (JSONL); read after every rotated LOG.<n> beside it, oldest first "
        "(with --since, those last modified before it are skipped)",
    )
    stats.add_argument("--since", help="ISO-8601 time or an age like 1h, 30m, 7d")
    stats.add_argument("--until", help="ISO-8601 time or an age like 1h, 30m, 7d")
    stats.add_argument(
        "--by",
        default="model",
        help="comma list of model, key, team, deployment, provider, endpoint, status, prompt, "
        "prompt_version, user, session, key_secret, tag:NAME",
    )
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
    stats.add_argument(
        "--drift",
        action="store_true",
        help="compare the last --window with the --baseline before it; exit 1 when flagged",
    )
    stats.add_argument("--baseline", default="7d", help="with --drift (default 7d)")
    stats.add_argument("--window", default="1d", help="with --drift (default 1d)")
    stats.set_defaults(func=_stats)
    _add_prompt_commands(commands)
    return parser


def _prompts(args: argparse.Namespace) -> int:
    from gateway.prompts.commands import run

    return run(args)


def _add_prompt_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    prompts = commands.add_parser("prompts", help="the prompt registry: list, show, diff, promote")
    prompts.add_argument(
        "--config", help=f"config naming prompts_dir (default: $GATEWAY_CONFIG or {DEFAULT_CONFIG})"
    )
    prompts.add_argument("--dir", help="the prompts directory (instead of --config)")
    prompts.add_argument("--audit", help="the audit trail (default: the config's audit_path)")
    actions = prompts.add_subparsers(dest="prompts_command", required=True)
    actions.add_parser("list", help="every prompt, its versions and aliases")
    show = actions.add_parser("show", help="one prompt's versions in full")
    show.add_argument("id")
    diff = actions.add_parser("diff", help="a unified diff of two versions")
    diff.add_argument("id")
    diff.add_argument("a", type=int)
    diff.add_argument("b", type=int)
    promote = actions.add_parser(
        "promote", help="move an alias to a version when its replay report's gate passed"
    )
    promote.add_argument("id")
    promote.add_argument("version", type=int)
    promote.add_argument("--alias", default="production")
    promote.add_argument("--report", help="the `gateway replay --prompt` report (JSON)")
    promote.add_argument(
        "--force", action="store_true", help="promote without a passing gate (recorded as forced)"
    )
    prompts.set_defaults(func=_prompts)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
