"""Listing 100,000 tasks: the SDK's typed iterator against plain requests, same server.

For both page shapes (production-shaped pages: expanded data units with files,
annotations, assignee objects and undeclared fields; and compact ones) and for 0 ms and
20 ms of backend latency, prints the wall time of:

- plain ``requests`` following ``next`` links (JSON only, one page at a time): the floor;
- ``client.tasks.filter(...).iterator()``, typed models, pages in flight (default 4);
- the same with ``pages_in_flight=1`` (one page at a time);
- ``iterator(stable=True)`` (cursor walk, at 0 ms).

Targets: typed iteration <= 1.0x plain at 0 ms; at 20 ms <= 0.35x the sequential plain
time (latency hidden by concurrency). Also prints the time to the first item and the
peak memory growth while streaming, in pages (target <= max_in_flight + 1: the window
grows with the latency up to 4 x in_flight).

    python benchmarks/listing.py [--tasks 100000] [--page-size 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).parent))
from _server import Server, local_server

import synapse.resources  # noqa: F401 - the models load once per process (see import_time.py)
from synapse import Client

IN_FLIGHT = 4


def plain_items(server: Server, page_size: int) -> Iterator[dict[str, Any]]:
    session = requests.Session()
    session.headers["Synapse-Access-Token"] = f"Token {server.token}"
    url: str | None = f"{server.url}/sdk/tasks/?project={server.big_project}&page_size={page_size}"
    while url:
        body = session.get(url, timeout=30).json()
        yield from body["results"]
        url = body["next"]


def sdk(in_flight: int, stable: bool = False) -> Callable[[Server, int], Iterator[Any]]:
    def items(server: Server, page_size: int) -> Iterator[Any]:
        client = Client(server.url, server.token, page_size=page_size, pages_in_flight=in_flight)
        return client.tasks.filter(project=server.big_project).iterator(stable=stable)

    return items


Way = Callable[[Server, int], Iterator[Any]]


def timed(way: Way, server: Server, page_size: int) -> tuple[float, float, int]:
    """(total seconds, seconds to the first item, items)."""
    started = time.perf_counter()
    items = way(server, page_size)
    first_at = 0.0
    count = 0
    for _ in items:
        if not count:
            first_at = time.perf_counter() - started
        count += 1
    return time.perf_counter() - started, first_at, count


def peak_growth(way: Way, server: Server, page_size: int) -> int:
    """Peak traced memory while streaming, above what was held after the first item."""
    gc.collect()
    tracemalloc.start()
    items = way(server, page_size)
    next(items)
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    for _ in items:
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - base


def page_bytes(server: Server, page_size: int) -> int:
    """Peak memory of fetching and parsing one page with requests (the unit of growth)."""
    session = requests.Session()
    session.headers["Synapse-Access-Token"] = f"Token {server.token}"
    url = f"{server.url}/sdk/tasks/?project={server.big_project}&page_size={page_size}"
    session.get(url, timeout=30).json()
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    parsed = session.get(url, timeout=30).json()
    size = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    del parsed
    return size


def run(shape: str, latency: float, args: argparse.Namespace) -> None:
    extra = ["--compact"] if shape == "compact" else []
    if latency:
        extra += ["--latency", str(latency)]
    with local_server("--tasks", str(args.tasks), *extra) as server:
        ways: dict[str, Way] = {
            "plain requests following next": plain_items,
            f"iterator(), {IN_FLIGHT} pages in flight": sdk(IN_FLIGHT),
            "iterator(), pages_in_flight=1": sdk(1),
        }
        if not latency:
            ways["iterator(stable=True), cursor"] = sdk(1, stable=True)
        for _ in range(2):  # the server renders a page in one go, then fills its row cache
            timed(plain_items, server, args.page_size)
        rounds = args.rounds if not latency else 1
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
        for _ in range(rounds):  # interleaved, best of the rounds
            for name, way in ways.items():
                total, first, n = timed(way, server, args.page_size)
                assert n == args.tasks, n
                results[name].append((total, first))
        best = {name: min(r[0] for r in rs) for name, rs in results.items()}
        first = {name: min(r[1] for r in rs) for name, rs in results.items()}
        plain = best["plain requests following next"]
        print(f"\n{shape} pages, {latency * 1000:.0f} ms latency: {args.tasks:,} tasks, "
              f"page size {args.page_size}, best of {rounds}")  # fmt: skip
        for name, seconds in best.items():
            print(f"  {name}: {seconds:.2f}s (ratio {seconds / plain:.3f}), "
                  f"first item after {first[name] * 1000:.0f} ms")  # fmt: skip
        if not latency:
            one_page = page_bytes(server, args.page_size)
            sdk_peak = peak_growth(sdk(IN_FLIGHT), server, args.page_size)
            print(f"  one page: {one_page / 1024:.0f} KiB; peak growth of iterator(): "
                  f"{sdk_peak / one_page:.1f} pages (target <= {4 * IN_FLIGHT + 1})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--shapes", default="realistic,compact")
    parser.add_argument("--latencies", default="0,0.02")
    args = parser.parse_args()
    for shape in args.shapes.split(","):
        for latency in (float(x) for x in args.latencies.split(",")):
            run(shape, latency, args)


if __name__ == "__main__":
    main()
