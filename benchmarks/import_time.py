"""``import synapse`` in a fresh interpreter, against ``import requests`` alone.

A notebook or a CLI pays the import at every start. Prints the median of several fresh
interpreters for each, and the difference (target: within 0.1 s of requests alone), then
the slowest modules of one ``python -X importtime`` run.

The models (and pydantic) load on first use, so the import alone is not the whole
story: it also prints the time to a first typed object from a local backend
(``import synapse; Client(...).projects.get(id)``) against ``import requests;
requests.get(...).json()``, in fresh interpreters too.

Modules run from their cached bytecode, as from an installed wheel: when the
environment says not to write bytecode (``PYTHONDONTWRITEBYTECODE``), the runs use a
temporary ``PYTHONPYCACHEPREFIX`` and a first run fills it.

    python benchmarks/import_time.py [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _server import FRESH_ENV as ENV
from _server import local_server


def import_seconds(module: str) -> float:
    """Wall time of ``import module`` in a fresh interpreter, from its own clock."""
    return timed(f"import {module}")


def timed(statements: str) -> float:
    """Wall time of ``statements`` in a fresh interpreter, from its own clock."""
    code = f"import time; t = time.perf_counter(); {statements}; print(time.perf_counter() - t)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=ENV
    )
    return float(out.stdout.strip().splitlines()[-1])


def own_modules(top: int = 8) -> list[tuple[int, str]]:
    """The package's modules that cost the most to import themselves (microseconds)."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import synapse"],
        capture_output=True,
        text=True,
        check=True,
        env=ENV,
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
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    import_seconds("synapse")  # fills the bytecode cache when it is a temporary one
    times: dict[str, list[float]] = {"requests": [], "synapse": []}
    for _ in range(args.runs):  # interleaved: a busy moment hits both alike
        for module, seconds in times.items():
            seconds.append(import_seconds(module))
    base = statistics.median(times["requests"])
    ours = statistics.median(times["synapse"])
    print(f"import requests: {base:.3f}s, import synapse: {ours:.3f}s (median of {args.runs})")
    print(f"difference: {ours - base:+.3f}s (target <= 0.100s)")
    print("the package's own modules, self time:")
    for micros, name in own_modules():
        print(f"  {micros / 1000:6.1f} ms  {name}")
    with local_server("--seed", "demo") as server:
        plain = (
            "import requests; requests.get("
            f"'{server.url}/projects/1/', timeout=10, "
            f"headers={{'Synapse-Access-Token': 'Token {server.token}'}}).json()"
        )
        typed = f"import synapse; synapse.Client('{server.url}', '{server.token}').projects.get(1)"
        first = {
            "requests": statistics.median(timed(plain) for _ in range(args.runs)),
            "synapse": statistics.median(timed(typed) for _ in range(args.runs)),
        }
    extra = first["synapse"] - first["requests"]
    print(f"to a first object: requests {first['requests']:.3f}s (a dict), synapse "
          f"{first['synapse']:.3f}s (a typed Project), {extra:+.3f}s")  # fmt: skip


if __name__ == "__main__":
    main()
