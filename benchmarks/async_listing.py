"""The async client against the sync client and plain httpx, same local server.

1. ``--gets`` (1,000) ``aget``s with 16 in flight at 20 ms of backend latency, against
   the sync client's ``get`` on a 16-thread pool and plain ``httpx.AsyncClient`` GETs
   (JSON parsed) with the same 16 in flight. Target: within 1.1x of plain httpx.
2. Listing ``--tasks`` (100,000) tasks at 20 ms: ``async for`` over the AsyncClient's
   queryset against the sync client's ``iterator()``, both with 4 pages in flight, and
   the peak memory growth of each while streaming. Target: no slower than the sync client.

    python benchmarks/async_listing.py [--tasks 100000] [--gets 1000] [--latency 0.02]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _server import Server, local_server

import synapse.resources  # noqa: F401 - the models load once per process (see import_time.py)
from synapse import Client
from synapse.aio import AsyncClient

IN_FLIGHT = 16
PAGES_IN_FLIGHT = 4


def task_ids(server: Server, count: int) -> list[int]:
    with Client(server.url, server.token) as client:
        query = client.tasks.filter(project=server.big_project).order_by("id")
        return [t.id for t in query.page_size(min(count, 1000))[:count]]  # type: ignore[misc]


async def plain_httpx_gets(server: Server, ids: list[int]) -> int:
    limit = asyncio.Semaphore(IN_FLIGHT)
    headers = {"Synapse-Access-Token": f"Token {server.token}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30) as client:

        async def one(pk: int) -> Any:
            async with limit:
                answer = await client.get(f"/tasks/{pk}/")
                answer.raise_for_status()
                return answer.json()

        return len(await asyncio.gather(*(one(pk) for pk in ids)))


async def async_client_gets(server: Server, ids: list[int]) -> int:
    limit = asyncio.Semaphore(IN_FLIGHT)
    async with AsyncClient(server.url, server.token) as client:

        async def one(pk: int) -> Any:
            async with limit:
                return await client.tasks.aget(pk)

        return len(await asyncio.gather(*(one(pk) for pk in ids)))


def sync_client_gets(server: Server, ids: list[int]) -> int:
    with Client(server.url, server.token) as client, ThreadPoolExecutor(IN_FLIGHT) as pool:
        return len(list(pool.map(client.tasks.get, ids)))


def timed(run: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    done = run()
    return time.perf_counter() - started, done


def cpu_timed(run: Callable[[], int]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of this process, items): on a shared machine the CPU
    time is the steadier figure of what the client itself costs."""
    cpu = time.process_time()
    seconds, done = timed(run)
    return seconds, time.process_time() - cpu, done


def in_loop(make: Callable[[], Awaitable[int]]) -> Callable[[], int]:
    return lambda: asyncio.run(make())  # type: ignore[arg-type]


async def async_listing(server: Server, page_size: int, memory: bool = False) -> int:
    client = AsyncClient(server.url, server.token, page_size=page_size,
                         pages_in_flight=PAGES_IN_FLIGHT)  # fmt: skip
    count = 0
    async with client:
        async for _ in client.tasks.filter(project=server.big_project):
            if memory and count == 0:
                tracemalloc.reset_peak()
            count += 1
    return count


def sync_listing(server: Server, page_size: int, memory: bool = False) -> int:
    client = Client(server.url, server.token, page_size=page_size, pages_in_flight=PAGES_IN_FLIGHT)
    count = 0
    with client:
        for _ in client.tasks.filter(project=server.big_project).iterator():
            if memory and count == 0:
                tracemalloc.reset_peak()
            count += 1
    return count


def peak_growth(run: Callable[[], int]) -> float:
    """Peak traced memory while streaming (after the first item), in MiB."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - base) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--gets", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--realistic", action="store_true", help="production-shaped pages (default: compact)"
    )
    args = parser.parse_args()
    latency = ["--latency", str(args.latency)]
    shape = [] if args.realistic else ["--compact"]
    with local_server("--tasks", str(args.tasks), *shape, *latency) as server:
        ids = task_ids(server, args.gets)
        gets: dict[str, Callable[[], int]] = {
            "plain httpx.AsyncClient": in_loop(lambda: plain_httpx_gets(server, ids)),
            "AsyncClient.aget": in_loop(lambda: async_client_gets(server, ids)),
            f"Client.get on {IN_FLIGHT} threads": lambda: sync_client_gets(server, ids),
        }
        best = {name: float("inf") for name in gets}
        cpu = {name: float("inf") for name in gets}
        for _ in range(args.rounds):  # interleaved, best of the rounds
            for name, run in gets.items():
                seconds, used, done = cpu_timed(run)
                assert done == len(ids), done
                best[name] = min(best[name], seconds)
                cpu[name] = min(cpu[name], used)
        plain, plain_cpu = best["plain httpx.AsyncClient"], cpu["plain httpx.AsyncClient"]
        print(f"\n{len(ids):,} gets, {IN_FLIGHT} in flight, {args.latency * 1000:.0f} ms latency, "
              f"best of {args.rounds}")  # fmt: skip
        for name, seconds in best.items():
            print(f"  {name}: {seconds:.2f}s ({len(ids) / seconds:,.0f}/s, ratio to plain "
                  f"httpx {seconds / plain:.3f}); CPU {cpu[name]:.2f}s "
                  f"(ratio {cpu[name] / plain_cpu:.3f})")  # fmt: skip

        listings: dict[str, Callable[[], int]] = {
            "sync Client iterator()": lambda: sync_listing(server, args.page_size),
            "AsyncClient async for": in_loop(lambda: async_listing(server, args.page_size)),
        }
        timings = {name: (float("inf"), float("inf")) for name in listings}
        for _ in range(2):  # interleaved, best of two (the first also warms the server)
            for name, run in listings.items():
                seconds, used, done = cpu_timed(run)
                assert done == args.tasks, (name, done)
                timings[name] = (min(timings[name][0], seconds), min(timings[name][1], used))
        sync_seconds, sync_cpu = timings["sync Client iterator()"]
        print(f"\nlisting {args.tasks:,} {'production-shaped' if args.realistic else 'compact'} "
              f"tasks, page size {args.page_size}, {PAGES_IN_FLIGHT} "
              f"pages in flight, {args.latency * 1000:.0f} ms latency, best of 2")  # fmt: skip
        for name, (seconds, used) in timings.items():
            print(f"  {name}: {seconds:.2f}s (ratio to sync {seconds / sync_seconds:.3f}); "
                  f"CPU {used:.2f}s (ratio {used / sync_cpu:.3f})")  # fmt: skip
        sync_peak = peak_growth(lambda: sync_listing(server, args.page_size, memory=True))
        async_peak = peak_growth(
            in_loop(lambda: async_listing(server, args.page_size, memory=True))
        )
        print(f"  peak memory growth while streaming: sync {sync_peak:.1f} MiB, "
              f"async {async_peak:.1f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
