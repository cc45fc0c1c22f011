"""A real MQTT broker on loopback (Mosquitto), and the relay from IoT Core publishes to it."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt


class BrokerUnavailable(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class MosquittoBroker:
    """Mosquitto with a TCP listener (engine, tests) and a websockets listener (browsers), anonymous, loopback only."""

    port: int = 0
    websocket_port: int = 0
    _process: subprocess.Popen[bytes] | None = None
    _workdir: tempfile.TemporaryDirectory[str] | None = None

    def start(self) -> MosquittoBroker:
        binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
        if binary is None:
            raise BrokerUnavailable("mosquitto is not installed: `apt-get install mosquitto` (make setup does it)")
        self.port = self.port or free_port()
        self.websocket_port = self.websocket_port or free_port()
        self._workdir = tempfile.TemporaryDirectory(prefix="local-engine-mqtt-")
        config = Path(self._workdir.name) / "mosquitto.conf"
        config.write_text(
            "per_listener_settings false\n"
            "allow_anonymous true\n"
            "persistence false\n"
            f"listener {self.port} 127.0.0.1\n"
            f"listener {self.websocket_port} 127.0.0.1\n"
            "protocol websockets\n"
        )
        self._process = subprocess.Popen(  # noqa: S603 - a fixed binary and a config file we wrote
            [binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                error = self._process.stderr.read().decode() if self._process.stderr else ""
                raise BrokerUnavailable(f"mosquitto exited: {error.strip()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerUnavailable(f"mosquitto did not listen on 127.0.0.1:{self.port} within 10 s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._process = None
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None


@dataclass
class MqttRelay:
    """Publishes what the IoT bridge sent to IoT Core onto the local broker, keeping QoS and retain."""

    port: int
    published: int = 0
    _client: mqtt.Client | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def connect(self) -> MqttRelay:
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"local-engine-relay-{self.port}")
        self._client.connect("127.0.0.1", self.port)
        self._client.loop_start()
        return self

    def publish(self, topic: str, payload: bytes, *, qos: int, retain: bool) -> None:
        if self._client is None:
            raise BrokerUnavailable("the MQTT relay is not connected")
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(timeout=5)
        with self._lock:
            self.published += 1

    def close(self) -> None:
        if self._client is not None:
            self._client.loop_stop()
            self._client.disconnect()
            self._client = None
