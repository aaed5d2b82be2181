"""Issue 23's targets in one run: every listing in a fresh process, against the local
backend (production-shaped pages unless ``--compact``), beside plain ``requests`` and the
old package.

For each backend (``0 ms``; ``20 ms`` of latency; ``5 % 503``: 0 ms with 5 % of requests
answered 503) and each way (plain ``requests`` following ``next``, ``synapse``'s
``iterator()``, the old package's ``list_tasks(list_all=True)``), prints the median over
``--rounds`` interleaved fresh processes of:

- the wall time of the whole process (interpreter, import, client, listing), which is
  what a short script costs;
- the time to the first item, from the script's first line;
- the peak resident memory.

Then checks the targets:

- latency: ``synapse`` at 20 ms within 1.3x of ``synapse`` at 0 ms;
- faults: ``synapse`` with 5 % 503s within 1.5x of its fault-free time, and exact (the
  same ids in the same order as plain ``requests`` without faults);
- cold: ``synapse`` at 0 ms within 1.10x of plain ``requests`` (whole process), and its
  first item no later than plain ``requests``' first item (one page's round trip) plus
  50 ms: from the script's first line (import and models included), and for a second
  listing in the same process (everything loaded).

Plain ``requests`` does not retry, so it has no figure with faults. The old package runs in
its own interpreter (``--old-python``; by default the one ``make compat`` builds) and is
left out when that is missing.

    python benchmarks/throughput.py [--tasks 50000] [--rounds 3] [--compact]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).parent))
from _server import FRESH_ENV, Server, local_server

HERE = Path(__file__).parent
LISTER = HERE / "_lister.py"
DEFAULT_OLD = HERE.parent / ".compat-venv" / "client" / "bin" / "python"
BACKENDS = {
    "0 ms": [],
    "20 ms": ["--latency", "0.02"],
    "5 % 503": ["--error-rate", "0.05"],
}


def run_once(python: str, way: str, server: Server, page_size: int) -> dict[str, Any]:
    """One listing in a fresh process; the whole process's wall time added as ``wall``."""
    args = [python, str(LISTER), way, server.url, server.token, str(server.big_project)]
    started = time.perf_counter()
    out = subprocess.run(
        [*args, str(page_size)], capture_output=True, text=True, check=False, env=FRESH_ENV
    )
    wall = time.perf_counter() - started
    if out.returncode:
        raise RuntimeError(f"{way} failed: {out.stderr.strip().splitlines()[-1:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall"] = wall
    return result


def warm(server: Server, page_size: int) -> None:
    """One plain pass, so the server's row cache is warm for every way alike."""
    session = requests.Session()
    session.headers["Synapse-Access-Token"] = f"Token {server.token}"
    url: str | None = f"{server.url}/sdk/tasks/?project={server.big_project}&page_size={page_size}"
    while url:
        response = session.get(url, timeout=60)
        if response.status_code == 503:
            continue
        body = response.json()
        url = body["next"]


def measure(args: argparse.Namespace, ways: dict[str, str]) -> dict[str, dict[str, Any]]:
    """``{"backend/way": median figures}`` for every backend and way."""
    figures: dict[str, dict[str, Any]] = {}
    shape = ["--compact"] if args.compact else []
    for backend, extra in BACKENDS.items():
        if backend not in args.backends:
            continue
        with local_server("--tasks", str(args.tasks), *shape, *extra) as server:
            warm(server, args.page_size)
            runs: dict[str, list[dict[str, Any]]] = {way: [] for way in ways}
            for _ in range(args.rounds):
                for way, python in ways.items():
                    if way == "requests" and "503" in backend:
                        continue  # it does not retry
                    runs[way].append(run_once(python, way, server, args.page_size))
            for way, results in runs.items():
                if not results:
                    continue
                ids = {r["ids"] for r in results}
                figures[f"{backend}/{way}"] = {
                    "wall": statistics.median(r["wall"] for r in results),
                    "first": statistics.median(r["first"] for r in results),
                    "warm_first": statistics.median(r["warm_first"] for r in results),
                    "rss": statistics.median(r["peak_rss_mib"] for r in results),
                    "count": min(r["count"] for r in results),
                    "ids": ids.pop() if len(ids) == 1 else "differ between runs",
                }
                f = figures[f"{backend}/{way}"]
                print(f"  {backend:>8} {way:>8}: {f['wall']:6.2f} s whole process, first "
                      f"item at {f['first'] * 1000:4.0f} ms (second listing: "
                      f"{f['warm_first'] * 1000:3.0f} ms), {f['count']:,} items, peak RSS "
                      f"{f['rss']:.0f} MiB", flush=True)  # fmt: skip
    return figures


def verdict(name: str, value: float, target: float, unit: str = "x") -> None:
    mark = "ok" if value <= target else "MISSED"
    print(f"  {name}: {value:.3f}{unit} (target <= {target}{unit}) {mark}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=50_000)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compact", action="store_true", help="bare tasks, not production-shaped")
    parser.add_argument("--old-python", default=str(DEFAULT_OLD))
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help="a subset of: " + ", ".join(BACKENDS)
    )
    args = parser.parse_args()
    args.backends = [b.strip() for b in args.backends.split(",")]
    ways = {"requests": sys.executable, "synapse": sys.executable}
    if Path(args.old_python).exists():
        ways["old"] = args.old_python
    else:
        print(f"(old package left out: no interpreter at {args.old_python})")
    shape = "compact" if args.compact else "production-shaped"
    print(f"{args.tasks:,} {shape} tasks, pages of {args.page_size}, "
          f"median of {args.rounds} fresh processes per way")  # fmt: skip
    f = measure(args, ways)

    print("\n| whole process | " + " | ".join(BACKENDS) + " |")
    print("| --- |" + " --- |" * len(BACKENDS))
    for way in ways:
        cells = []
        for backend in BACKENDS:
            got = f.get(f"{backend}/{way}")
            base = f.get(f"{backend}/requests")
            if got is None:
                cells.append("—")
            elif base is None or way == "requests":
                cells.append(f"{got['wall']:.2f} s")
            else:
                cells.append(f"{got['wall']:.2f} s ({got['wall'] / base['wall']:.2f}x requests)")
        print(f"| {way} | " + " | ".join(cells) + " |")

    print("\ntargets:")
    ours, plain = f.get("0 ms/synapse"), f.get("0 ms/requests")
    if ours is None or plain is None:
        return  # every target is a ratio to the fault-free listing
    if "20 ms/synapse" in f:
        verdict("20 ms / 0 ms", f["20 ms/synapse"]["wall"] / ours["wall"], 1.3)
    if "5 % 503/synapse" in f:
        verdict("5 % 503 / fault-free", f["5 % 503/synapse"]["wall"] / ours["wall"], 1.5)
    exact = all(
        got["ids"] == plain["ids"] and got["count"] == args.tasks
        for key, got in f.items()
        if key.endswith("/synapse")
    )
    print(f"  every listing of synapse exact (same ids, same order as plain requests): {exact}")
    verdict("cold listing / plain requests", ours["wall"] / plain["wall"], 1.10)
    late = (ours["first"] - plain["first"]) * 1000
    verdict("first item after plain requests' first item, cold process", late, 50, " ms")
    late = (ours["warm_first"] - plain["warm_first"]) * 1000
    verdict("first item after plain requests' first item, second listing", late, 50, " ms")


if __name__ == "__main__":
    main()
