"""Guardrail cost: the latency each guardrail adds, and what output guarding costs a stream's TTFT.

    python loadtests/guardrails.py [--requests N]

Part 1 (in process): the scan time of each detector on a ~200-token prompt with a few PII
values, p50 / p99 over N scans (the number the `<= 3 ms p50` target is about).
Part 2 (in process): the two pipeline stages around an echoed JSON answer, per policy.
Part 3 (end to end): `gateway mock-provider` (0 ms) and `gateway serve` on loopback, one key per
policy; N sequential chat requests (concurrency 1, keep-alive) with the same prompt to the
`echo` model per key, and the p50 / p99 latency each policy adds over the key without
guardrails. Then N streamed requests per key: time to first content byte with and without an
output guardrail (the sliding window's cost to TTFT).
Figures of the latest run: docs/guardrails.md.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import start_gateway, start_mock_provider

PROMPT = (
    "Hi team, I am writing about the quarterly report that we discussed in the meeting last "
    "week. Please review the attached summary and send me your comments by Friday. The budget "
    "for the next quarter was approved and we will start hiring two engineers. You can reach me "
    "at jane.smith@acme-corp.com or call me on +44 20 7946 0958 if anything is unclear. We also "
    "need to migrate the staging server 10.20.30.40 to the new cluster before the end of the "
    "month, and update the documentation for the onboarding process. Thanks for your help with "
    "the launch; the customers were happy with the new dashboard and the faster search. Let us "
    "plan a short retrospective next Tuesday at 10am to collect lessons learned and agree on "
    "next steps for the roadmap, including the mobile app and the billing integration. Invoice "
    "2024-117 is due on 2024-06-30 and covers 3 licences."
)
POLICIES: dict[str, str] = {
    "none": "",
    "pii_patterns": (
        '[[guardrails]]\nname = "pii"\ntype = "pii"\napplies_to = "input"\naction = "redact"\n'
    ),
    "pii_restore": (
        '[[guardrails]]\nname = "pii"\ntype = "pii"\napplies_to = "both"\naction = "restore"\n'
    ),
    "regex": (
        '[[guardrails]]\nname = "codes"\ntype = "regex"\naction = "redact"\n'
        "patterns = ['\\bPRJ-\\d{4}\\b']\n"
        'deny_list = ["Project Bluebird"]\n'
    ),
    "prompt_injection": (
        '[[guardrails]]\nname = "inj"\ntype = "prompt_injection"\naction = "block"\n'
    ),
    "toxicity": '[[guardrails]]\nname = "tox"\ntype = "toxicity"\naction = "block"\n',
    "pii_output_stream": (
        '[[guardrails]]\nname = "pii"\ntype = "pii"\napplies_to = "output"\naction = "redact"\n'
    ),
}


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def timed(fn: Callable[[], Any], n: int) -> tuple[float, float]:
    for _ in range(min(20, n)):
        fn()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return percentiles(samples)


def interleaved(
    names: list[str], measure: Callable[[str], float], n: int
) -> dict[str, list[float]]:
    for name in names:
        for _ in range(10):
            measure(name)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(n):
        for name in names:
            samples[name].append(measure(name))
    return samples


def report(names: list[str], samples: dict[str, list[float]]) -> None:
    base = percentiles(samples[names[0]])[0]
    print(f"{'policy':<20}{'p50 ms':>9}{'p99 ms':>9}{'added p50':>11}")
    for name in names:
        p50, p99 = percentiles(samples[name])
        print(f"{name:<20}{p50:9.3f}{p99:9.3f}{p50 - base:11.3f}")


def in_process(n: int) -> None:
    from gateway import tokens
    from gateway.config.types import GuardrailConfig
    from gateway.guardrails.compiled import compile_guardrails

    print(f"\n## Detector scan time, one ~{tokens.count_text(PROMPT)}-token prompt ({n} scans)")
    print(f"{'guardrail':<22}{'p50 ms':>9}{'p99 ms':>9}")
    configs = {
        "pii (patterns)": GuardrailConfig(name="pii", type="pii"),
        "pii, prose no digits": GuardrailConfig(name="pii", type="pii"),
        "regex + deny list": GuardrailConfig(
            name="r", type="regex", patterns=(r"\bPRJ-\d{4}\b",), deny_list=("Project Bluebird",)
        ),
        "prompt_injection": GuardrailConfig(name="i", type="prompt_injection"),
        "toxicity (sklearn)": GuardrailConfig(name="t", type="toxicity"),
    }
    analyzers: dict[Any, Any] = {}
    for label, config in configs.items():
        guard = compile_guardrails([config], analyzers).input[0]
        text = (
            "".join(c for c in PROMPT if not c.isdigit() and c != "@")
            if "no digits" in label
            else PROMPT
        )
        p50, p99 = timed(partial(guard.check, text), n)
        print(f"{label:<22}{p50:9.3f}{p99:9.3f}")


def stages_in_process(n: int) -> None:
    """guard_input + guard_output around an echo answer, per policy: the gateway's added time."""
    import asyncio

    import orjson

    from gateway.config import load_config
    from gateway.pipeline.context import Endpoint, RequestContext
    from gateway.pipeline.guard import guard_input, guard_output
    from gateway.runtime import build_runtime

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        keys = write_setup(root, "http://127.0.0.1:9")
        runtime = build_runtime(load_config(root / "config.toml"))
    endpoint = Endpoint("/v1/chat/completions", "chat", "openai")

    async def one(name: str) -> None:
        ctx = RequestContext(
            endpoint=endpoint, runtime=runtime, request_id="r", ts=0.0, started=0.0, headers={}
        )
        ctx.key = runtime.find_key(keys[name])
        ctx.body = {"model": "echo", "messages": [{"role": "user", "content": PROMPT}]}
        await guard_input(ctx, None)  # type: ignore[arg-type]
        sent = ctx.body["messages"][0]["content"]
        ctx.response_json = {
            "id": "x",
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": sent},
                    "finish_reason": "stop",
                }
            ],
        }
        ctx.response_body = orjson.dumps(ctx.response_json)
        await guard_output(ctx, None)  # type: ignore[arg-type]

    loop = asyncio.new_event_loop()
    names = [
        "none",
        "pii_patterns",
        "pii_restore",
        "pii_output_stream",
        "regex",
        "prompt_injection",
        "toxicity",
    ]
    print(
        f"\n## Pipeline stages guard_input + guard_output, in process ({n} requests each, "
        "JSON answer)"
    )
    report(
        names,
        interleaved(names, lambda name: _timed_once(lambda: loop.run_until_complete(one(name))), n),
    )
    loop.close()


def _timed_once(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def write_setup(root: Path, upstream: str) -> dict[str, str]:
    (root / "policies").mkdir()
    keys: dict[str, str] = {}
    config = f"""[logging]
path = "{root / "requests.jsonl"}"

[[providers]]
name = "mock"
type = "openai"
base_url = "{upstream}/v1"

[[models]]
name = "echo"
[[models.deployments]]
provider = "mock"
model = "echo"
"""
    for name, policy in POLICIES.items():
        (root / "policies" / f"{name}.toml").write_text(policy)
        keys[name] = f"sk-load-{name}"
        sha = hashlib.sha256(keys[name].encode()).hexdigest()
        config += f'\n[[keys]]\nid = "{name}"\npolicy = "{name}"\nkey_sha256 = "{sha}"\n'
    (root / "config.toml").write_text(config)
    return keys


def end_to_end(n: int) -> None:
    mock = start_mock_provider()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        keys = write_setup(root, mock.url)
        started = start_gateway(root / "config.toml")
        gateway = started.proc
        try:
            print(f"\n(gateway start-up with every guardrail policy: {started.startup_s:.2f} s)")
            host, port = gateway.url.removeprefix("http://").split(":")
            conn = http.client.HTTPConnection(host, int(port), timeout=30)
            chat_body = json.dumps(
                {"model": "echo", "messages": [{"role": "user", "content": PROMPT}]}
            ).encode()
            stream_body = json.dumps(
                {"model": "echo", "stream": True, "messages": [{"role": "user", "content": PROMPT}]}
            ).encode()

            def send(key: str, body: bytes) -> http.client.HTTPResponse:
                # Headers and body in one write (http.client does that for bytes): no Nagle stall.
                headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
                conn.request("POST", "/v1/chat/completions", body=body, headers=headers)
                response = conn.getresponse()
                if response.status != 200:
                    raise RuntimeError(f"{response.status}: {response.read()!r}")
                return response

            def chat(key: str) -> float:
                start = time.perf_counter()
                send(key, chat_body).read()
                return (time.perf_counter() - start) * 1000

            def first_token(key: str) -> float:
                start = time.perf_counter()
                response = send(key, stream_body)
                ttft = None
                for line in iter(response.readline, b""):
                    if (
                        ttft is None
                        and line.startswith(b"data: {")
                        and b'"content":"' in line
                        and b'"content":""' not in line
                    ):
                        ttft = (time.perf_counter() - start) * 1000
                response.read()
                assert ttft is not None, "no content in the stream"
                return ttft

            # Policies take turns request by request, so drift on a shared machine hits them alike.
            names = ["none", "pii_patterns", "pii_restore", "regex", "prompt_injection", "toxicity"]
            print(
                f"\n## Added latency per request, through the gateway "
                f"({n} sequential chat requests each)"
            )
            report(names, interleaved(names, lambda name: chat(keys[name]), n))
            names = ["none", "pii_output_stream", "pii_restore"]
            print(
                f"\n## Streaming time to first content byte ({n} streams each; echo of the prompt)"
            )
            report(names, interleaved(names, lambda name: first_token(keys[name]), n))
        finally:
            gateway.stop()
            mock.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--no-server", action="store_true", help="skip the end-to-end part")
    args = parser.parse_args()
    in_process(args.requests)
    stages_in_process(args.requests)
    if not args.no_server:
        end_to_end(args.requests)


if __name__ == "__main__":
    main()
