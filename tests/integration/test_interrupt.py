"""Ctrl-C during a listing ends the process at once: page requests still in flight (on
a server that never answers them) hold nothing up."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

SCRIPT = """
import sys
from synapse import Client
client = Client(sys.argv[1], "t" * 20, pages_in_flight=4, timeout=600)
print("listing", flush=True)
for task in client.tasks.all().iterator():
    pass
"""


def test_ctrl_c_exits_while_pages_are_still_in_flight() -> None:
    release, asked = threading.Event(), threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            page = int(parse_qs(urlsplit(self.path).query).get("page", ["1"])[0])
            if page > 1:
                asked.set()
                release.wait()  # never, while the test runs: the client must not wait
            body = json.dumps({"count": 10, "previous": None, "results": [{"id": page}],
                               "next": f"/sdk/tasks/?page={page + 1}"}).encode()  # fmt: skip
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "listing"
        asked.wait()  # pages 2.. are in flight, and their server holds them
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)  # a bound against a hang, not a measure
        assert "KeyboardInterrupt" in err
        assert not release.is_set()  # it ended while its requests were still unanswered
    finally:
        proc.kill()
        release.set()
        server.shutdown()
        server.server_close()
