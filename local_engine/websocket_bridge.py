"""MQTT over WebSocket for browsers, in front of Mosquitto's TCP listener: each WebSocket is one TCP connection.

Why not Mosquitto's own websockets listener: Debian's Mosquitto 2.0.11 is built against a libwebsockets
without external poll support, so it services WebSocket clients once per turn of its main loop (a 100 ms
poll): one message per turn. Measured here, 60 price books of 6 kB took 1.6 to 6 s to reach a WebSocket
subscriber and 40-60 ms over TCP (eclipse-mosquitto/mosquitto#2252). The bridge only moves bytes: the
browser's CONNECT, SUBSCRIBE and every packet reach the broker's TCP port unchanged, so the broker still sees (and
logs) each browser client by its own client id, as AWS IoT Core sees a browser behind its WebSocket front door.
That TCP port is ``MosquittoBroker.port``, the IoT Core front door (local_engine/iot_core.py): a browser meets
IoT Core's rules (no retained message to its wildcard subscription, at most 50 subscriptions) like any client.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from local_engine.server_thread import ServerThread

# What MQTT clients offer (MQTT 3.1.1 / 5: "mqtt"; MQTT 3.1: "mqttv3.1"); mqtt.js offers "mqtt".
MQTT_SUBPROTOCOLS = (Subprotocol("mqtt"), Subprotocol("mqttv3.1"))
TCP_READ_BYTES = 64 * 1024


@dataclass
class WebSocketBridge:
    """ws://127.0.0.1:{port} -> tcp://127.0.0.1:{broker_port}, on its own event loop thread."""

    broker_port: int
    port: int = 0
    _serving: ServerThread | None = None

    def start(self) -> WebSocketBridge:
        self._serving = ServerThread("mqtt-websocket-bridge")
        self.port = self._serving.start(
            lambda: serve(
                self._relay,
                "127.0.0.1",
                self.port,
                subprotocols=list(MQTT_SUBPROTOCOLS),
                select_subprotocol=_mqtt_subprotocol,
                compression=None,  # MQTT clients do not negotiate it; saves a copy per message
                ping_interval=None,  # MQTT has its own keepalive (PINGREQ), relayed like any packet
                max_size=None,  # Mosquitto enforces its own packet size limits
            )
        )
        return self

    def stop(self) -> None:
        if self._serving is not None:
            self._serving.stop()
            self._serving = None

    async def _relay(self, websocket: ServerConnection) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.broker_port)

        async def browser_to_broker() -> None:
            with contextlib.suppress(ConnectionClosed):
                async for frame in websocket:
                    writer.write(frame if isinstance(frame, bytes) else frame.encode())
                    await writer.drain()

        async def broker_to_browser() -> None:
            with contextlib.suppress(ConnectionClosed):
                while chunk := await reader.read(TCP_READ_BYTES):
                    await websocket.send(chunk)

        tasks = [asyncio.create_task(browser_to_broker()), asyncio.create_task(broker_to_browser())]
        try:
            # Either side closing ends the pair: the broker then sees the client gone, as with a direct socket.
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
            await websocket.close()


def _mqtt_subprotocol(connection: ServerConnection, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    return next((protocol for protocol in offered if protocol in MQTT_SUBPROTOCOLS), None)
