"""A cheap HTTP load generator for benchmarks: asyncio, raw keep-alive sockets, one process.

Python threads with `http.client` spend a large share of two cores on the client side (and
fight the server for the GIL-free cores). This one pre-serializes every request, keeps one
connection per client open, and parses only the status line and `Content-Length`. Run it in a
separate process (`run_load`), so the parent's interpreter is not in the way.

Requests go to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from bench.common import ROOT


def post_request(port: int, path: str, body: dict[str, str], headers: dict[str, str]) -> bytes:
    """One HTTP/1.1 POST with a form body, ready to write on a keep-alive connection."""
    payload = urlencode(body).encode()
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/x-www-form-urlencoded",
        f"Content-Length: {len(payload)}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


def cpu_seconds(cmdline_contains: str) -> float:
    """User + system CPU seconds used so far by the live processes whose command line contains
    `cmdline_contains` (the app server by its port in its command line, PostgreSQL backends by database
    name). Differences of two readings are contention-independent cost figures."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    needle = cmdline_contains.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "cmdline").read_bytes():
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def cpu_calibration_ms() -> float:
    """CPU milliseconds of a fixed pure-Python loop in this process: how fast a CPU second is on
    this machine right now (a busy, shared machine runs the same code slower), so the CPU-per-
    request figures of two runs can be compared. About 200-300 ms on an idle 2 GHz core."""
    start = time.process_time()
    total = 0
    for i in range(3_000_000):
        total += i * i
    return (time.process_time() - start) * 1000


@dataclass
class LoadOutcome:
    requests: int = 0
    seconds: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    client_cpu_s: float = 0.0

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status not in (200, 204))


async def _client(port: int, requests: list[bytes], outcome: LoadOutcome) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for raw in requests:
            start = time.perf_counter()
            writer.write(raw)
            status_line = await reader.readline()
            status = int(status_line.split(b" ", 2)[1])
            length = 0
            chunked = False
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                name, _, value = line.partition(b":")
                lname = name.strip().lower()
                if lname == b"content-length":
                    length = int(value.strip())
                elif lname == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
            if chunked:
                while True:
                    size = int((await reader.readline()).strip(), 16)
                    await reader.readexactly(size + 2)
                    if size == 0:
                        break
            elif length:
                await reader.readexactly(length)
            outcome.latencies_ms.append((time.perf_counter() - start) * 1000)
            outcome.statuses[status] = outcome.statuses.get(status, 0) + 1
            outcome.requests += 1
    finally:
        writer.close()


async def _run(port: int, chunks: list[list[bytes]]) -> LoadOutcome:
    outcome = LoadOutcome()
    cpu = time.process_time()
    start = time.perf_counter()
    await asyncio.gather(*(_client(port, chunk, outcome) for chunk in chunks))
    outcome.seconds = time.perf_counter() - start
    outcome.client_cpu_s = time.process_time() - cpu
    return outcome


def run_load(port: int, chunks: list[list[bytes]]) -> LoadOutcome:
    """Send each chunk's requests in order on its own connection, all chunks concurrently, from a
    child process. Returns counts by status, the wall time and the client's own CPU time."""
    with tempfile.TemporaryDirectory(prefix="mobiliza-loadgen-") as tmp:
        source = Path(tmp) / "requests.pickle"
        result = Path(tmp) / "result.json"
        source.write_bytes(pickle.dumps((port, chunks)))
        subprocess.run(
            [sys.executable, "-m", "bench.loadgen", str(source), str(result)],
            cwd=ROOT,
            env=dict(os.environ),
            check=True,
        )
        data = json.loads(result.read_text())
    return LoadOutcome(
        requests=data["requests"],
        seconds=data["seconds"],
        statuses={int(k): v for k, v in data["statuses"].items()},
        latencies_ms=data["latencies_ms"],
        client_cpu_s=data["client_cpu_s"],
    )


def _main(source: str, target: str) -> None:
    port, chunks = pickle.loads(Path(source).read_bytes())  # noqa: S301 - our own temp file
    outcome = asyncio.run(_run(port, chunks))
    Path(target).write_text(
        json.dumps(
            {
                "requests": outcome.requests,
                "seconds": outcome.seconds,
                "statuses": outcome.statuses,
                "latencies_ms": outcome.latencies_ms,
                "client_cpu_s": outcome.client_cpu_s,
            }
        )
    )


if __name__ == "__main__":
    _main(sys.argv[1], sys.argv[2])
