"""Liveness, readiness and metrics over HTTP: ``/healthz``, ``/readyz``, ``/metrics`` (Prometheus text format).

A small registry of counters and gauges (with labels) rather than a client library: the bridges need a
handful of series, and the image stays at its four pinned dependencies.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

Labels = tuple[tuple[str, str], ...]


class Metrics:
    """Counters and gauges by name and labels; thread-safe; rendered in the Prometheus text format."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._help: dict[str, tuple[str, str]] = {}  # name -> (type, help)
        self._values: dict[str, dict[Labels, float]] = {}
        self._lock = threading.Lock()

    def describe(self, name: str, kind: str, help_text: str) -> None:
        with self._lock:
            self._help[name] = (kind, help_text)
            self._values.setdefault(name, {})

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            series = self._values.setdefault(name, {})
            series[key] = series.get(key, 0.0) + amount

    def set(self, name: str, value: float, **labels: str) -> None:
        with self._lock:
            self._values.setdefault(name, {})[tuple(sorted(labels.items()))] = value

    def value(self, name: str, **labels: str) -> float:
        with self._lock:
            return self._values.get(name, {}).get(tuple(sorted(labels.items())), 0.0)

    def total(self, name: str) -> float:
        with self._lock:
            return sum(self._values.get(name, {}).values())

    def render(self) -> str:
        lines: list[str] = []
        with self._lock:
            for name in sorted(self._values):
                full = f"{self.prefix}_{name}"
                kind, help_text = self._help.get(name, ("untyped", ""))
                lines += [f"# HELP {full} {help_text}", f"# TYPE {full} {kind}"]
                for labels, value in sorted(self._values[name].items()):
                    rendered = ",".join(f'{key}="{_escape(val)}"' for key, val in labels)
                    lines.append(f"{full}{{{rendered}}} {value:g}" if rendered else f"{full} {value:g}")
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Heartbeat:
    """The main loop beats on every turn; the process is alive while the last beat is recent."""

    def __init__(self, stale_after_seconds: float) -> None:
        self.stale_after_seconds = stale_after_seconds
        self._last = time.monotonic()

    def beat(self) -> None:
        self._last = time.monotonic()

    def alive(self) -> bool:
        return time.monotonic() - self._last < self.stale_after_seconds


class HealthServer:
    """Serves the probes and metrics on a thread; ``ready`` says why not when it is not."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        metrics: Metrics,
        heartbeat: Heartbeat,
        ready: Callable[[], str | None],
    ) -> None:
        self.metrics, self.heartbeat, self.ready = metrics, heartbeat, ready
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="health", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def respond(self, path: str) -> tuple[int, str, str]:
        """(status, content type, body) for a probe path."""
        if path == "/healthz":
            alive = self.heartbeat.alive()
            return (200, "text/plain", "ok\n") if alive else (503, "text/plain", "main loop stalled\n")
        if path == "/readyz":
            reason = self.ready()
            return (200, "text/plain", "ready\n") if reason is None else (503, "text/plain", f"not ready: {reason}\n")
        if path == "/metrics":
            return 200, "text/plain; version=0.0.4", self.metrics.render()
        return 404, "text/plain", "not found\n"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                status, content_type, body = server.respond(self.path.split("?", 1)[0])
                payload = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
                """Probes every few seconds would drown the logs."""

        return Handler


class ProbedProcess(Protocol):
    """What a bridge exposes to its probes and to the signals that stop it."""

    metrics: Metrics
    heartbeat: Heartbeat

    def not_ready_because(self) -> str | None: ...

    def request_stop(self, *_: object) -> None: ...


def serve_probes(process: ProbedProcess, *, host: str, port: int) -> HealthServer:
    """Start ``process``'s health, readiness and metrics endpoints; SIGTERM and SIGINT ask it to stop gracefully."""
    signal.signal(signal.SIGTERM, process.request_stop)
    signal.signal(signal.SIGINT, process.request_stop)
    return HealthServer(
        host=host,
        port=port,
        metrics=process.metrics,
        heartbeat=process.heartbeat,
        ready=process.not_ready_because,
    ).start()
