"""``import synapse`` in a fresh interpreter, against ``import requests`` alone.

A notebook or a CLI pays the import at every start. Prints the median of several fresh
interpreters for each, and the difference (target: within 0.1 s of requests alone), then
the slowest modules of one ``python -X importtime`` run.

    python benchmarks/import_time.py [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys


def import_seconds(module: str) -> float:
    """Wall time of ``import module`` in a fresh interpreter, from its own clock."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def own_modules(top: int = 8) -> list[tuple[int, str]]:
    """The package's modules that cost the most to import themselves (microseconds)."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import synapse"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in run.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[0].strip().isdigit():
            name = parts[2].strip()
            if name.startswith("synapse"):
                rows.append((int(parts[0]), name))
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    times = {m: [import_seconds(m) for _ in range(args.runs)] for m in ("requests", "synapse")}
    base = statistics.median(times["requests"])
    ours = statistics.median(times["synapse"])
    print(f"import requests: {base:.3f}s, import synapse: {ours:.3f}s (median of {args.runs})")
    print(f"difference: {ours - base:+.3f}s (target <= 0.100s)")
    print("the package's own modules, self time:")
    for micros, name in own_modules():
        print(f"  {micros / 1000:6.1f} ms  {name}")


if __name__ == "__main__":
    main()
