"""The `gateway` command. Thin: each subcommand parses its flags and calls one function."""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path
from typing import Sequence

DEFAULT_CONFIG = "config.example.toml"


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.app import CONFIG_ENV
    from gateway.config import ConfigError, load_config

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
    workers = args.workers or config.server.workers
    # Bind here, before any worker starts, so "listening" is true when printed and
    # `--port 0` can report the port the kernel chose.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        print(f"error: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
        return 1
    sock.listen(2048)
    sock.set_inheritable(True)
    bound_port = sock.getsockname()[1]
    os.environ[CONFIG_ENV] = str(path.resolve())
    if workers > 1:
        _fresh_multiprocess_dir()
    print(
        f"llm-gateway listening on http://{host}:{bound_port} "
        f"(config {path}, version {config.version}, {workers} worker{'s' if workers > 1 else ''})",
        flush=True,
    )
    uvicorn.run(
        "gateway.app:create_app_from_env",
        factory=True,
        fd=sock.fileno(),
        workers=workers,
        loop="uvloop",
        http="httptools",
        log_level=args.log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=30,
        # Longer than the idle timeout of common clients and load balancers (60 s), so the
        # client, not the gateway, closes idle keep-alive connections and never races a close.
        timeout_keep_alive=75,
    )
    return 0


def _fresh_multiprocess_dir() -> None:
    """Workers share metrics through files in one directory, emptied at every start."""
    import shutil
    import tempfile

    from gateway.observability.metrics import MULTIPROC_ENV

    directory = os.environ.get(MULTIPROC_ENV) or tempfile.mkdtemp(prefix="llm-gateway-metrics-")
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    os.environ[MULTIPROC_ENV] = directory


def _check(args: argparse.Namespace) -> int:
    from gateway.config import check_config, load_config

    problems = check_config(args.path)
    if problems:
        for problem in problems:
            print(problem)
        return 1
    config = load_config(args.path)
    print(f"ok: {args.path} (version {config.version})")
    return 0


def _mock_provider(args: argparse.Namespace) -> int:
    from gateway.mock_provider.server import run

    run(host=args.host, port=args.port, latency_ms=args.latency_ms, tokens_per_s=args.tokens_per_s)
    return 0


def _keys_hash(args: argparse.Namespace) -> int:
    from gateway.config import hash_key

    print(hash_key(args.secret))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description="llm-gateway: an OpenAI-compatible LLM proxy")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the proxy")
    serve.add_argument("--config", help=f"config file (default: $GATEWAY_CONFIG or {DEFAULT_CONFIG})")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(func=_serve)

    check = commands.add_parser("check", help="validate a config and the policies it names")
    check.add_argument("path")
    check.set_defaults(func=_check)

    mock = commands.add_parser("mock-provider", help="run the built-in fake LLM provider")
    mock.add_argument("--host", default="127.0.0.1")
    mock.add_argument("--port", type=int, default=9000)
    mock.add_argument("--latency-ms", type=float, default=0.0)
    mock.add_argument("--tokens-per-s", type=float, default=0.0)
    mock.set_defaults(func=_mock_provider)

    keys = commands.add_parser("keys", help="gateway key helpers")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    key_hash = key_commands.add_parser("hash", help="print the sha256 form of a key for [[keys]] key_sha256")
    key_hash.add_argument("secret")
    key_hash.set_defaults(func=_keys_hash)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
