"""Pages per second the local backend serves: 100-task pages of a 100,000-task project.

The server runs in its own process (``synapse-local serve``) and is listed with plain
``requests`` (no SDK code), so the figure is the server's own: for production-shaped and
compact pages, on a first (cold) pass that renders each page in one go, a second pass
that renders its rows one by one into the row cache, and a third (warm) pass served from
that cache. Target: at least 150 pages/s warm on a 2-core machine, so that the
server does not limit the SDK's benchmarks.

    python benchmarks/local_backend.py [--tasks 100000] [--pages 300]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).parent))
from _server import local_server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--pages", type=int, default=300, help="pages to fetch (spread evenly)")
    args = parser.parse_args()

    for shape in ("realistic", "compact"):
        measure(args, shape)


def measure(args: argparse.Namespace, shape: str) -> None:
    started = time.perf_counter()
    extra = ["--compact"] if shape == "compact" else []
    with local_server("--tasks", str(args.tasks), *extra) as server:
        print(f"{shape}: {args.tasks:,} tasks seeded in {time.perf_counter() - started:.1f}s")
        session = requests.Session()
        session.headers["Synapse-Access-Token"] = f"Token {server.token}"
        total_pages = -(-args.tasks // 100)
        wanted = min(args.pages, total_pages)
        step = max(1, total_pages // wanted)
        numbers = [1 + i * step for i in range(wanted)]
        url = f"{server.url}/sdk/tasks/"
        query = {"project": server.big_project, "page_size": 100}
        session.get(url, params=query, timeout=30).raise_for_status()  # open the connection
        for label in ("cold", "again (fills the row cache)", "warm"):
            started = time.perf_counter()
            items = 0
            for number in numbers:
                response = session.get(url, params={**query, "page": number}, timeout=30)
                response.raise_for_status()
                items += len(response.json()["results"])
            elapsed = time.perf_counter() - started
            target = "  (target >= 150)" if label == "warm" else ""
            rate = len(numbers) / elapsed
            print(f"  {label}: {len(numbers)} pages ({items:,} tasks) in {elapsed:.2f}s, "
                  f"{rate:.0f} pages/s{target}")  # fmt: skip


if __name__ == "__main__":
    main()
