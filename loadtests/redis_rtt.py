"""What one Redis round trip costs at c = 1 on this machine, by what the client does between calls.

    python loadtests/redis_rtt.py [--calls 3000] [--gaps-us 0,100,300,1000]
                                  [--redis-cpu N --client-cpu M]

Starts a throwaway redis-server on loopback (as features.py does) and times PING round trips
(send to reply, blocking socket, TCP_NODELAY) from one client, with a gap before each call in
which the client either sleeps (`time.sleep`: its CPU goes idle, as a gateway's does between
requests) or stays busy (a spin: as a gateway's does while it parses and routes a request).
Prints the median and p90 round trip per gap and mode. `--redis-cpu` / `--client-cpu` pin the
two processes (on one core, or on two).

Why: at c = 1 the limits on Redis add one round trip to each request, and the gateway is busy
right before it (the request) and right after it (the upstream call). On the 2-vCPU VM of
docs/performance.md the same PING took ~15 us after an idle gap and ~80-120 us after a busy one:
what a round trip costs there depends on how the two processes are woken and placed on the
cores, not on Redis or the client's code. Pinned, it was ~7-15 us with both on one core and
~90-120 us with each on its own core, whatever the gap: waking the other vCPU is the cost.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import start_redis

PING = b"*1\r\n$4\r\nPING\r\n"


def round_trips(sock: socket.socket, calls: int, gap_s: float, busy: bool) -> list[float]:
    times = []
    for _ in range(calls):
        if busy:
            until = time.perf_counter() + gap_s
            while time.perf_counter() < until:
                pass
        elif gap_s:
            time.sleep(gap_s)
        began = time.perf_counter()
        sock.sendall(PING)
        reply = sock.recv(64)
        times.append(time.perf_counter() - began)
        assert reply == b"+PONG\r\n", reply
    return times


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=3000, help="per gap and mode")
    parser.add_argument("--gaps-us", default="0,100,300,1000")
    parser.add_argument("--redis-cpu", type=int, help="pin redis-server to this CPU")
    parser.add_argument("--client-cpu", type=int, help="pin this client to this CPU")
    args = parser.parse_args(argv)
    server = start_redis({args.redis_cpu} if args.redis_cpu is not None else None)
    if args.client_cpu is not None:
        os.sched_setaffinity(0, {args.client_cpu})
    try:
        host, _, port = server.url.removeprefix("redis://").split("/")[0].partition(":")
        sock = socket.create_connection((host, int(port)))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        round_trips(sock, 500, 0.0, busy=False)  # warm-up
        print(f"PING round trips, {args.calls} per cell (median / p90, us):")
        for gap_us in (int(gap) for gap in args.gaps_us.split(",")):
            cells = []
            for busy in (False, True):
                times = sorted(round_trips(sock, args.calls, gap_us / 1e6, busy))
                p90 = times[int(len(times) * 0.9)]
                cells.append(f"{statistics.median(times) * 1e6:6.1f} / {p90 * 1e6:6.1f}")
            print(f"  gap {gap_us:5d} us: client sleeps {cells[0]}   client busy {cells[1]}")
        sock.close()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
