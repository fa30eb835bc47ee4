"""Start-up time and memory of a gateway with only the PII `patterns` engine configured.

    python loadtests/pii_startup.py [--rounds N] [--requests N]

Each round starts `gateway serve` twice, interleaved: with no guardrail (`bare`) and with one
`type = "pii"` guardrail on input (`pii_patterns`, the default engine). Per start it records
the seconds from spawning the process to the first 200 from /readyz, the RSS then, and the RSS
after N chat requests carrying the PII prompt of loadtests/guardrails.py (to the mock provider,
0 ms). It also reports whether the gateway process loaded spaCy or presidio (from
/proc/PID/maps). Prints median, min and max per variant, the targets of issue 22 (start-up
<= 1.5 s, RSS <= 130 MB with the patterns engine) with PASS / MISS, and the machine's load:
start-up time is wall time, so a busy machine inflates it (figures belong to a quiet machine).
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from guardrails import PROMPT
from harness import GATEWAY_KEY, MODEL, start_gateway, start_mock_provider, write_config
from machine import cpu_pressure

POLICIES = {
    "bare": "",
    "pii_patterns": (
        '[[guardrails]]\nname = "pii"\ntype = "pii"\napplies_to = "input"\naction = "redact"\n'
    ),
}
START_TARGET_S, RSS_TARGET_MB = 1.5, 130.0


def loaded_nlp(pid: int) -> bool:
    """Whether the process mapped spaCy's or presidio's files (their compiled modules)."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False
    return "/spacy/" in maps or "/presidio_analyzer/" in maps or "/thinc/" in maps


def send_prompts(url: str, n: int) -> None:
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": PROMPT}]})
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        for _ in range(n):
            conn.request(
                "POST",
                "/v1/chat/completions",
                body=body.encode(),
                headers={
                    "authorization": f"Bearer {GATEWAY_KEY}",
                    "content-type": "application/json",
                },
            )
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"chat answered {response.status}")
    finally:
        conn.close()


def one_start(directory: Path, upstream: str, policy: str, requests: int) -> dict[str, float]:
    config = write_config(directory, upstream, policy=policy)
    start = start_gateway(config)
    try:
        ready_rss = start.proc.rss_bytes() / 2**20
        nlp = loaded_nlp(start.proc.pid)
        send_prompts(start.proc.url, requests)
        return {
            "ready_s": start.startup_s,
            "rss_ready_mb": ready_rss,
            "rss_after_mb": start.proc.rss_bytes() / 2**20,
            "nlp_loaded": float(nlp),
        }
    finally:
        start.proc.stop()


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):7.2f} ({min(values):.2f}-{max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    print(f"machine before: {cpu_pressure()}")
    mock = start_mock_provider()
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in POLICIES}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for round_no in range(args.rounds):
                for name, policy in POLICIES.items():
                    where = Path(tmp) / f"{name}-{round_no}"
                    runs[name].append(one_start(where, mock.url, policy, args.requests))
    finally:
        mock.stop()
    print(f"machine after:  {cpu_pressure()}")
    print(f"\n{args.rounds} interleaved starts per variant; median (min-max)")
    print(f"{'variant':14} {'to /readyz s':>20} {'RSS ready MB':>22} {'RSS after MB':>22}  NLP")
    for name, results in runs.items():
        cells = [
            spread([r[k] for r in results]) for k in ("ready_s", "rss_ready_mb", "rss_after_mb")
        ]
        nlp = "loaded" if any(r["nlp_loaded"] for r in results) else "not loaded"
        print(f"{name:14} {cells[0]:>20} {cells[1]:>22} {cells[2]:>22}  {nlp}")
    pii = runs["pii_patterns"]
    ready = statistics.median(r["ready_s"] for r in pii)
    rss = max(statistics.median(r[k] for r in pii) for k in ("rss_ready_mb", "rss_after_mb"))
    print(
        f"\ntarget start-up <= {START_TARGET_S} s (patterns): {ready:.2f} s "
        f"{'PASS' if ready <= START_TARGET_S else 'MISS'}"
    )
    print(
        f"target RSS <= {RSS_TARGET_MB:.0f} MB (patterns, after {args.requests} requests): "
        f"{rss:.1f} MB {'PASS' if rss <= RSS_TARGET_MB else 'MISS'}"
    )
    nlp_loaded = any(r["nlp_loaded"] for r in pii)
    print(f"NLP stack not loaded with patterns only: {'MISS' if nlp_loaded else 'PASS'}")


if __name__ == "__main__":
    main()
