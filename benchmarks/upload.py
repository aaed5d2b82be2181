"""Uploading a 300 MB file: the SDK's chunked upload against plain requests speaking the
same protocol, same run, same local backend (in its own process); and the async client's
native upload (httpx, same protocol steps) against the sync client's.

Prints the wall times, the ratios (sdk/plain target <= 1.0) and each way's peak memory
growth (RSS; target <= 20 MB for the SDK whatever the chunk size). Each way runs in a
fresh process so that peaks do not mix.

    python benchmarks/upload.py [--mb 300] [--chunk-mb 50]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _server import local_server

MB = 1024 * 1024


def rss_now() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss() -> int:
    """This process's peak RSS (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def run_plain(url: str, token: str, path: Path, chunk: int) -> str:
    import requests

    session = requests.Session()
    session.headers["Synapse-Access-Token"] = f"Token {token}"
    total = path.stat().st_size
    digest = hashlib.md5()
    target, offset = f"{url}/chunked_upload/", 0
    with open(path, "rb") as source:
        while offset < total:
            data = source.read(chunk)
            digest.update(data)
            answer = session.put(
                target,
                files={"file": ("file", data)},
                data={"filename": path.name},
                headers={"Content-Range": f"bytes {offset}-{offset + len(data) - 1}/{total}"},
                timeout=600,
            )
            answer.raise_for_status()
            target, offset = answer.json()["url"], answer.json()["offset"]
            del data, answer
    final = session.post(target, json={"md5": digest.hexdigest()}, timeout=600)
    final.raise_for_status()
    return str(final.json()["checksum"])


def run_sdk(url: str, token: str, path: Path, chunk: int) -> str:
    from synapse import Client

    client = Client(url, token, timeout={"connect": 5, "read": 600})
    return str(client.chunked_upload(path, chunk_size=chunk, resume=False)["checksum"])


def run_async(url: str, token: str, path: Path, chunk: int) -> str:
    import asyncio

    from synapse import AsyncClient

    async def upload() -> str:
        async with AsyncClient(url, token, timeout={"connect": 5, "read": 600}) as client:
            done = await client.chunked_upload(path, chunk_size=chunk, resume=False)
        return str(done["checksum"])

    return asyncio.run(upload())


WAYS = {"plain": run_plain, "sdk": run_sdk, "async": run_async}


def worker(way: str, url: str, token: str, path: Path, chunk: int) -> None:
    import httpx  # noqa: F401 - imported before measuring, by every way
    import requests  # noqa: F401

    import synapse
    import synapse.aio.client  # noqa: F401

    before = rss_now()
    started = time.perf_counter()
    checksum = WAYS[way](url, token, path, chunk)
    elapsed = time.perf_counter() - started
    print(json.dumps({"seconds": elapsed, "growth": peak_rss() - before, "md5": checksum}))


def measure(way: str, url: str, token: str, path: Path, chunk: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", way, url, token, str(path), str(chunk)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    result: dict[str, float] = json.loads(out)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=300)
    parser.add_argument("--chunk-mb", type=float, action="append")
    parser.add_argument("--worker", nargs=5, metavar=("WAY", "URL", "TOKEN", "PATH", "CHUNK"))
    args = parser.parse_args()
    if args.worker:
        way, url, token, path, chunk = args.worker
        worker(way, url, token, Path(path), int(chunk))
        return
    chunks = args.chunk_mb or [50.0, 8.0]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.bin"
        with open(path, "wb") as out:
            for _ in range(args.mb):
                out.write(os.urandom(MB))
        digest = hashlib.md5()
        with open(path, "rb") as source:
            while block := source.read(MB):
                digest.update(block)
        expected = digest.hexdigest()
        with (
            tempfile.TemporaryDirectory() as data_dir,
            local_server("--data-dir", data_dir) as server,
        ):
            print(f"file: {args.mb} MB")
            for chunk_mb in chunks:
                chunk = int(chunk_mb * MB)
                plain = measure("plain", server.url, server.token, path, chunk)
                sdk = measure("sdk", server.url, server.token, path, chunk)
                native = measure("async", server.url, server.token, path, chunk)
                assert plain["md5"] == sdk["md5"] == native["md5"] == expected
                print(f"chunk {chunk_mb:g} MB:")
                ways = (("plain requests", plain), ("synapse SDK", sdk), ("AsyncClient", native))
                for name, result in ways:
                    seconds, growth = result["seconds"], result["growth"] / MB
                    print(f"  {name:15} {seconds:.2f}s, peak growth {growth:.1f} MB")
                print(f"  ratio sdk/plain: {sdk['seconds'] / plain['seconds']:.3f}  (target <= 1.0;"
                      " memory target <= 20 MB)")  # fmt: skip
                print(f"  ratio async/sdk: {native['seconds'] / sdk['seconds']:.3f}")


if __name__ == "__main__":
    main()
