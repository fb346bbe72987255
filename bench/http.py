"""A small HTTP load driver for benchmarks: the app server on loopback and keep-alive clients.

Requests are bounded in count and time, and go only to 127.0.0.1.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode

from bench.common import BENCH_SECRET_KEY, ROOT, percentile


def free_port() -> int:
    """`BENCH_PORT` when set (a port range reserved for whoever runs the benchmark), else any
    free loopback port."""
    if os.environ.get("BENCH_PORT"):
        return int(os.environ["BENCH_PORT"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SERVER = os.environ.get("BENCH_SERVER", "granian")
SERVER_WORKERS = int(os.environ.get("BENCH_SERVER_WORKERS", "2"))
SERVER_THREADS = int(os.environ.get("BENCH_SERVER_THREADS", "4"))


def server_description() -> str:
    """What served the benchmark, for its JSON line."""
    kind = "gthread " if SERVER == "gunicorn" else ""
    return f"{SERVER}, {SERVER_WORKERS} {kind}workers x {SERVER_THREADS} threads"


def server_marker(port: int) -> str:
    """What only the app server's processes on `port` have in their command line (for
    `loadgen.cpu_seconds`)."""
    return f"--port\x00{port}\x00" if SERVER == "granian" else f"127.0.0.1:{port}"


@contextmanager
def app_server(database_url: str, pid_out: list[int] | None = None) -> Iterator[int]:
    """Serve the app as in production (docs/adr/0005: granian, a worker per core, production
    settings) on a free loopback port. `BENCH_SERVER=gunicorn` serves it with gunicorn gthread
    instead, to compare; `BENCH_SERVER_WORKERS` / `BENCH_SERVER_THREADS` change the pool. The main
    process's pid is appended to `pid_out` when given (its children are the workers)."""
    workers, threads = SERVER_WORKERS, SERVER_THREADS
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="mobiliza-bench-")
    env = dict(os.environ)
    env.update(
        DATA_DIR=data_dir,
        DATABASE_URL=database_url,
        DEBUG="0",
        SECRET_KEY=os.environ.get("SECRET_KEY", BENCH_SECRET_KEY),
        SECURE_SSL_REDIRECT="0",
        SECURE_COOKIES="0",
        LOG_LEVEL="WARNING",
        ALLOWED_HOSTS="127.0.0.1,localhost",
    )
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    if SERVER == "granian":
        command = [
            sys.executable, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1",
            "--port", str(port), "--workers", str(workers), "--blocking-threads", str(threads),
            "--log-level", "warning", "config.wsgi:application",
        ]  # fmt: skip
    else:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ]
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
    )
    try:
        # Generous: on a busy shared box, booting the workers (Django, the URLconf) takes a while.
        deadline = time.time() + 180
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{SERVER} exited with {proc.returncode}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"{SERVER} did not start")
        if pid_out is not None:
            pid_out.append(proc.pid)
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        shutil.rmtree(data_dir, ignore_errors=True)


def login_cookies(port: int, email: str, password: str) -> str:
    """Log in through the real login form; return the Cookie header value."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/accounts/login/")
    resp = conn.getresponse()
    resp.read()
    jar = SimpleCookie()
    for header in resp.headers.get_all("Set-Cookie") or []:
        jar.load(header)
    csrf = jar["csrftoken"].value
    body = urlencode({"username": email, "password": password, "csrfmiddlewaretoken": csrf})
    conn.request(
        "POST",
        "/accounts/login/",
        body=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={csrf}",
            "Referer": f"http://127.0.0.1:{port}/accounts/login/",
        },
    )
    resp = conn.getresponse()
    resp.read()
    if resp.status != 302:
        raise RuntimeError(f"login failed: {resp.status}")
    for header in resp.headers.get_all("Set-Cookie") or []:
        jar.load(header)
    return "; ".join(f"{k}={v.value}" for k, v in jar.items())


@dataclass
class LoadResult:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def p95_ms(self) -> float:
        return percentile(self.latencies, 95) * 1000


def hammer(
    port: int,
    path: str,
    *,
    clients: int = 8,
    seconds: float = 5.0,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """`clients` threads, each with one keep-alive connection, GET `path` for `seconds`."""
    result = LoadResult()
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        local: list[float] = []
        errors = 0
        while time.perf_counter() < stop_at:
            start = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers or {})
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    errors += 1
            except OSError:
                errors += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                continue
            local.append(time.perf_counter() - start)
        with lock:
            result.latencies.extend(local)
            result.requests += len(local)
            result.errors += errors

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.seconds = time.perf_counter() - began
    return result
