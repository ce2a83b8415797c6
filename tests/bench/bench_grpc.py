"""Catalogue GetItem and SearchItems with 16 calls in flight, beside a bare grpcio echo server.

Both servers are separate processes on loopback; the client drives them the same way (16 threads,
each one call at a time) for the same number of calls.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import grpc

from tests.bench.common import Figure, percentile

IN_FLIGHT = 16


def drive(call: Callable[[], object], total: int, in_flight: int = IN_FLIGHT) -> tuple[float, list[float]]:
    """calls/s and per-call latencies (ms) for `total` calls spread over `in_flight` threads."""
    per_thread = total // in_flight
    latencies: list[list[float]] = [[] for _ in range(in_flight)]
    start = threading.Barrier(in_flight + 1)

    def worker(i: int) -> None:
        start.wait()
        out = latencies[i]
        for _ in range(per_thread):
            t0 = time.perf_counter()
            call()
            out.append((time.perf_counter() - t0) * 1000)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(in_flight)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    flat = [x for xs in latencies for x in xs]
    return len(flat) / elapsed, flat


@contextmanager
def echo_server(port: int) -> Iterator[tuple[Callable[[], object], int]]:
    """The bare echo server in a process of its own, warmed up: (one call to it, its pid)."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.bench.echo_server", str(port)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip() == b"ready"
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            echo = ch.unary_unary("/bench.Echo/Echo")
            payload = b"x" * 64
            for _ in range(200):
                echo(payload)
            yield (lambda: echo(payload, timeout=10)), proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


def echo_baseline(port: int, total: int, cpu: dict[str, float] | None = None) -> tuple[float, list[float]]:
    """The bare echo's calls/s and latencies; with `cpu`, also the CPU seconds its server and this client spent
    while driven (by process, into `cpu`): the machine CPU per call a service's figure is set beside."""
    from tests.bench.common import CpuMeter

    with echo_server(port) as (echo, pid):
        if cpu is None:
            return drive(echo, total)
        with CpuMeter({"echo server": pid}) as meter:
            out = drive(echo, total)
        cpu.update({k: v for k, v in meter.spent.items() if k in ("echo server", "bench client")})
        return out


def interleaved(call: Callable[[], object], echo: Callable[[], object], total: int,
                rounds: int = 4) -> tuple[tuple[float, list[float]], tuple[float, list[float]]]:
    """`call` and the echo driven in turns, `rounds` times `total / rounds` calls each: ((calls/s, latencies) of
    `call`, the same of the echo). On a shared host whose speed drifts within minutes (the same echo measured
    2,460 to 5,025 calls/s within an hour here), an echo measured once, before, is a baseline of another moment;
    in turns, both meet the same drift."""
    n = total // rounds
    spent = {"call": 0.0, "echo": 0.0}
    lat: dict[str, list[float]] = {"call": [], "echo": []}
    for _ in range(rounds):
        for name, fn in (("echo", echo), ("call", call)):
            rate, got = drive(fn, n)
            spent[name] += len(got) / rate
            lat[name] += got
    return (len(lat["call"]) / spent["call"], lat["call"]), (len(lat["echo"]) / spent["echo"], lat["echo"])


def figures(name: str, rate: float, lat: list[float], base_rate: float, base_lat: list[float]) -> list[Figure]:
    return [
        Figure(f"{name} ({IN_FLIGHT} in flight)", rate, "calls/s", "bare grpcio echo", base_rate),
        Figure(f"{name} p50", percentile(lat, 50), "ms", "echo p50", percentile(base_lat, 50), higher_is_better=False),
        Figure(f"{name} p99", percentile(lat, 99), "ms", "echo p99", percentile(base_lat, 99), higher_is_better=False),
    ]
