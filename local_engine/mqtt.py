"""A real MQTT broker on loopback (Mosquitto) behind IoT Core's rules, and the relay from IoT Core publishes to it."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import paho.mqtt.client as mqtt

from local_engine.iot_core import IotCoreFrontDoor
from local_engine.websocket_bridge import WebSocketBridge


class BrokerUnavailable(RuntimeError):
    pass


class Subscription(NamedTuple):
    """One topic filter a client subscribed to, as the broker logged it."""

    client_id: str
    qos: int
    topic_filter: str


# Mosquitto's `log_type subscribe` line: "1795313667: trader-console-x 1 trading/v1/fixtures/+/prices".
# (Client ids and topic filters contain no spaces here; an unsubscribe line has no QoS field.)
def _subscription(line: str) -> Subscription | None:
    parts = line.strip().split(" ")
    if len(parts) != 4 or not parts[0].endswith(":") or parts[2] not in {"0", "1", "2"}:
        return None
    return Subscription(parts[1], int(parts[2]), parts[3])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class MosquittoBroker:
    """Mosquitto with a TCP listener (engine, tests) and MQTT over WebSocket (browsers), anonymous, loopback only.

    Both ports are AWS IoT Core's front door, not Mosquitto's: ``port`` is an :class:`IotCoreFrontDoor` (no retained
    message to a wildcard subscription, at most 50 subscriptions per connection and 8 filters per SUBSCRIBE, at
    most 7 slashes in a topic; see local_engine/iot_core.py), and the WebSocket bridge connects through it. Mosquitto
    itself listens on a port of its own that no client is given (``broker_port``).

    The WebSocket port is served by ``WebSocketBridge`` in front of the TCP listener, not by Mosquitto's own
    websockets listener, which delivers about one message per 100 ms here (see local_engine/websocket_bridge.py).

    With ``log_subscriptions`` the broker logs every SUBSCRIBE (one line per topic filter) to a
    log file, read here: ``subscriptions()`` is the broker's own account of who subscribed to what.
    """

    port: int = 0
    websocket_port: int = 0
    log_subscriptions: bool = False
    broker_port: int = 0
    _process: subprocess.Popen[bytes] | None = None
    _workdir: tempfile.TemporaryDirectory[str] | None = None
    _log_file: Path | None = None
    _bridge: WebSocketBridge | None = None
    _front_door: IotCoreFrontDoor | None = None

    def start(self) -> MosquittoBroker:
        binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
        if binary is None:
            raise BrokerUnavailable("mosquitto is not installed: `apt-get install mosquitto` (make setup does it)")
        self.broker_port = free_port()
        self._workdir = tempfile.TemporaryDirectory(prefix="local-engine-mqtt-")
        config = Path(self._workdir.name) / "mosquitto.conf"
        settings = ["per_listener_settings false", "allow_anonymous true", "persistence false"]
        config.write_text("\n".join([*settings, f"listener {self.broker_port} 127.0.0.1", ""]))
        if self.log_subscriptions:
            self._log_file = self._writable_log_file(Path(self._workdir.name))
            with config.open("a") as extra:
                extra.write(f"log_dest file {self._log_file}\n")
                for kind in ("error", "warning", "notice", "information", "subscribe", "unsubscribe"):
                    extra.write(f"log_type {kind}\n")
        self._process = subprocess.Popen(  # noqa: S603 - a fixed binary and a config file we wrote
            [binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                error = self._process.stderr.read().decode() if self._process.stderr else ""
                raise BrokerUnavailable(f"mosquitto exited: {error.strip()}")
            try:
                with socket.create_connection(("127.0.0.1", self.broker_port), timeout=0.2):
                    pass
            except OSError:
                time.sleep(0.05)
                continue
            self._front_door = IotCoreFrontDoor(self.broker_port, port=self.port).start()
            self.port = self._front_door.port
            self._bridge = WebSocketBridge(self.port, port=self.websocket_port).start()
            self.websocket_port = self._bridge.port
            return self
        self.stop()
        raise BrokerUnavailable(f"mosquitto did not listen on 127.0.0.1:{self.broker_port} within 10 s")

    @staticmethod
    def _writable_log_file(workdir: Path) -> Path:
        """A log file Mosquitto can append to: started as root it drops to its own user (``mosquitto``)."""
        log_file = workdir / "mosquitto.log"
        log_file.touch()
        if os.geteuid() == 0:
            try:
                broker_user = pwd.getpwnam("mosquitto")
            except KeyError:
                pass  # no such user: Mosquitto then stays root and can write anyway
            else:
                workdir.chmod(0o711)  # traverse only: the config and the log stay unreadable to others
                os.chown(log_file, broker_user.pw_uid, broker_user.pw_gid)
        return log_file

    def log_lines(self) -> list[str]:
        if self._log_file is None or not self._log_file.exists():
            return []
        return self._log_file.read_text(errors="replace").splitlines()

    def subscriptions(self) -> list[Subscription]:
        """Every topic filter subscribed since start, in order (needs ``log_subscriptions=True``)."""
        if not self.log_subscriptions:
            raise BrokerUnavailable("start the broker with log_subscriptions=True to see subscriptions")
        return [found for line in self.log_lines() if (found := _subscription(line)) is not None]

    def stop(self) -> None:
        if self._bridge is not None:
            self._bridge.stop()
            self._bridge = None
        if self._front_door is not None:
            self._front_door.stop()
            self._front_door = None
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
    """Publishes what the IoT bridge sent to IoT Core onto the local broker, keeping QoS and retain.

    It connects to the broker's IoT Core front door like any client, so a retained publish is stored by Mosquitto
    but reaches only exact subscriptions, as in IoT Core.
    """

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
