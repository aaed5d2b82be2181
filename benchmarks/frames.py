"""100,000 tasks into a DataFrame: ``to_pandas()`` against plain requests +
``pd.DataFrame(list_of_dicts)``, same server, production-shaped pages.

Each way runs in a fresh process (so imports and earlier runs do not blur its memory),
which prints its wall time and its peak RSS growth over the process after imports. The
parent prints the ratio to plain requests (target <= 1.0x), the memory the result keeps
(resident memory after, with the result alive) and the peak beyond it, in pages (a
page's parsed JSON as the unit).

    python benchmarks/frames.py [--tasks 100000] [--page-size 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).parent))
from _server import Server, local_server

WAYS = ("plain", "to_pandas", "to_arrow")


def plain(server: Server, page_size: int) -> Any:
    """What a user writes without the SDK: follow ``next``, then one DataFrame."""
    import pandas as pd

    session = requests.Session()
    session.headers["Synapse-Access-Token"] = f"Token {server.token}"
    url: str | None = f"{server.url}/sdk/tasks/?project={server.big_project}&page_size={page_size}"
    rows: list[dict[str, Any]] = []
    while url:
        body = session.get(url, timeout=30).json()
        rows.extend(body["results"])
        url = body["next"]
    return pd.DataFrame(rows)


def sdk(server: Server, page_size: int, way: str) -> Any:
    from synapse import Client

    client = Client(server.url, server.token, page_size=page_size)
    query = client.tasks.filter(project=server.big_project)
    return query.to_pandas(progress=False) if way == "to_pandas" else query.to_arrow()


def resident_kib() -> int:
    """This process's resident memory now (Linux), in KiB."""
    import os

    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def child(way: str, server: Server, page_size: int) -> None:
    """One measurement, in this fresh process: prints a JSON line."""
    import pandas  # noqa: F401 - imported before the baseline, for both ways
    import pyarrow  # noqa: F401

    import synapse  # noqa: F401

    gc.collect()
    base, base_peak = resident_kib(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    result = plain(server, page_size) if way == "plain" else sdk(server, page_size, way)
    seconds = time.perf_counter() - started
    gc.collect()
    kept = resident_kib() - base  # the result, alive
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - max(base, base_peak)
    print(json.dumps({"seconds": seconds, "peak_kib": peak, "kept_kib": kept,
                      "rows": len(result), "columns": result.shape[1]}))  # fmt: skip


def page_bytes(server: Server, page_size: int) -> int:
    """Traced memory of one page's parsed JSON (the unit of memory growth)."""
    session = requests.Session()
    session.headers["Synapse-Access-Token"] = f"Token {server.token}"
    url = f"{server.url}/sdk/tasks/?project={server.big_project}&page_size={page_size}"
    gc.collect()
    tracemalloc.start()
    parsed = session.get(url, timeout=30).json()
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del parsed
    return size


def measure(way: str, server: Server, page_size: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", way, "--url", server.url,
         "--project", str(server.big_project), "--page-size", str(page_size)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", choices=WAYS)
    parser.add_argument("--url")
    parser.add_argument("--project", type=int)
    args = parser.parse_args()
    if args.child:
        from _server import TOKEN

        child(args.child, Server(args.url, TOKEN, args.project), args.page_size)
        return
    with local_server("--tasks", str(args.tasks)) as server:
        for _ in range(2):  # the server renders each page once, then serves it from cache
            measure("plain", server, args.page_size)
        runs: dict[str, list[dict[str, Any]]] = {way: [] for way in WAYS}
        for _ in range(args.rounds):  # interleaved, best of the rounds
            for way in WAYS:
                runs[way].append(measure(way, server, args.page_size))
        one_page = page_bytes(server, args.page_size)
    best = {way: min(runs[way], key=lambda r: r["seconds"]) for way in WAYS}
    floor = best["plain"]["seconds"]
    print(f"{args.tasks:,} realistic tasks, page size {args.page_size}, best of {args.rounds}; "
          f"one page parsed: {one_page / 1024:.0f} KiB")  # fmt: skip
    labels = {
        "plain": "plain requests + pd.DataFrame(list_of_dicts)",
        "to_pandas": "to_pandas()",
        "to_arrow": "to_arrow()",
    }
    for way in WAYS:
        r = best[way]
        peak = max(run["peak_kib"] for run in runs[way]) * 1024
        kept = min(run["kept_kib"] for run in runs[way]) * 1024
        beyond = max(0, peak - kept) / one_page
        print(f"  {labels[way]}: {r['seconds']:.2f}s (ratio {r['seconds'] / floor:.3f}), "
              f"{r['rows']:,} rows x {r['columns']} columns; memory: result "
              f"{kept / 2**20:.0f} MiB, peak {peak / 2**20:.0f} MiB, "
              f"{beyond:.0f} pages beyond the result")  # fmt: skip


if __name__ == "__main__":
    main()
