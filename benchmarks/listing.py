"""Listing 100,000 tasks: the SDK's typed iterator against plain requests, same server.

Prints both wall times, their ratio (target <= 1.15, typed models included) and the peak
memory growth of each way, in pages (target <= 3 pages for the SDK).

    python benchmarks/listing.py [--tasks 100000] [--page-size 100]
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

from synapse import Client
from synapse.pagination import ReadAheadFetcher


def plain_items(server: Server, page_size: int) -> Iterator[dict[str, Any]]:
    session = requests.Session()
    session.headers["Synapse-Access-Token"] = f"Token {server.token}"
    url: str | None = f"{server.url}/sdk/tasks/?project={server.big_project}&page_size={page_size}"
    while url:
        body = session.get(url, timeout=30).json()
        yield from body["results"]
        url = body["next"]


def sdk_items(server: Server, page_size: int) -> Iterator[Any]:
    client = Client(server.url, server.token, page_size=page_size)
    return client.tasks.filter(project=server.big_project).iterator()


def sdk_read_ahead_items(server: Server, page_size: int) -> Iterator[Any]:
    client = Client(server.url, server.token, page_size=page_size)
    client.page_fetcher = ReadAheadFetcher()
    return client.tasks.filter(project=server.big_project).iterator()


def sdk_stable_cursor_items(server: Server, page_size: int) -> Iterator[Any]:
    client = Client(server.url, server.token, page_size=page_size)
    return client.tasks.filter(project=server.big_project).iterator(stable=True)


def sdk_stable_keyset_items(server: Server, page_size: int) -> Iterator[Any]:
    client = Client(server.url, server.token, page_size=page_size)
    qs = client.tasks.filter(project=server.big_project).order_by("id")
    return qs.iterator(stable=True)


Way = Callable[[Server, int], Iterator[Any]]


def timed(way: Way, server: Server, page_size: int) -> tuple[float, int]:
    started = time.perf_counter()
    count = sum(1 for _ in way(server, page_size))
    return time.perf_counter() - started, count


def peak_growth(way: Way, server: Server, page_size: int) -> int:
    """Peak traced memory while streaming, above what was held after the first item
    (so the session and connection set-up are not counted)."""
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
    """Peak memory of fetching and parsing one page with requests: response bytes,
    decoded text and parsed JSON, the unit the growth targets count in."""
    session = requests.Session()
    session.headers["Synapse-Access-Token"] = f"Token {server.token}"
    url = f"{server.url}/sdk/tasks/?project={server.big_project}&page_size={page_size}"
    session.get(url, timeout=30).json()  # open the connection first
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    parsed = session.get(url, timeout=30).json()
    size = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    del parsed
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with local_server("--tasks", str(args.tasks)) as server:
        timed(plain_items, server, args.page_size)  # warm the server's caches
        ways = {
            "plain requests following next": plain_items,
            "client.tasks.filter(...).iterator()": sdk_items,
            "  the same with ReadAheadFetcher": sdk_read_ahead_items,
            "  iterator(stable=True), cursor (-id)": sdk_stable_cursor_items,
            "  iterator(stable=True), keyset (id)": sdk_stable_keyset_items,
        }
        times: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(args.rounds):  # interleaved, best of the rounds
            for name, way in ways.items():
                t, n = timed(way, server, args.page_size)
                assert n == args.tasks, n
                times[name].append(t)
        best = {name: min(values) for name, values in times.items()}
        plain_best = best["plain requests following next"]
        print(f"tasks: {args.tasks:,}, page size {args.page_size}, best of {args.rounds}")
        for name, seconds in best.items():
            print(f"{name}: {seconds:.2f}s  (ratio {seconds / plain_best:.3f})")
        ratio = best["client.tasks.filter(...).iterator()"] / plain_best
        print(f"ratio sdk/plain: {ratio:.3f}  (target <= 1.15)")
        one_page = page_bytes(server, args.page_size)
        plain_peak = peak_growth(plain_items, server, args.page_size)
        sdk_peak = peak_growth(sdk_items, server, args.page_size)
        print(f"one page (response + text + parsed JSON): {one_page / 1024:.0f} KiB")
        print(f"peak growth plain: {plain_peak / 1024:.0f} KiB = {plain_peak / one_page:.1f} pages")
        print(
            f"peak growth sdk:   {sdk_peak / 1024:.0f} KiB = {sdk_peak / one_page:.1f} pages"
            "  (target <= 3 pages)"
        )


if __name__ == "__main__":
    main()
