"""AWS IoT Core's message-broker rules, in a thin MQTT relay in front of Mosquitto.

Mosquitto is a tool here, AWS IoT Core the specification: where Mosquitto is more lenient, every client of the
local broker (the engine, tests, browsers through ``WebSocketBridge``) meets IoT Core's behaviour instead, because
it reaches Mosquitto only through :class:`IotCoreFrontDoor`. Reproduced, with the AWS documentation it follows:

1. **No retained message to a wildcard subscription.** "Subscription to topic filters that contain a wildcard
   character can't receive retained messages. To receive a retained message, the subscribe request must contain a
   topic filter that matches the retained message topic exactly." (AWS IoT Core Developer Guide, "MQTT", section
   "AWS IoT differences from MQTT version 3.1.1 specification" and "Using MQTT retained messages",
   https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-retain). Mosquitto delivers them (MQTT
   3.1.1 section 3.3.1.3): here a retained PUBLISH from the broker reaches the client only if the client holds an
   exact subscription to its topic; otherwise it is dropped (and acknowledged to Mosquitto at QoS 1).
2. **At most 50 subscriptions per connection.** "AWS IoT supports 50 subscriptions per connection. Subscription
   requests on the same connection in excess of this amount may be rejected by AWS IoT and the connection will be
   closed. Clients should validate the SUBACK message" (AWS IoT Developer Guide, "AWS IoT Limits", as kept in
   github.com/awsdocs/aws-iot-docs developerguide/limits-iot.md; the quotas now live in the AWS General Reference,
   "AWS IoT Core endpoints and quotas", "Subscriptions per connection",
   https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits). Here each topic filter past
   the 50th gets the failure return code 0x80 in the SUBACK, and then the connection is closed. Subscribing again
   to a filter the connection already holds replaces it and does not count twice (MQTT 3.1.1 section 3.8.4).
3. **At most 8 topic filters per SUBSCRIBE** ("Maximum subscriptions per subscribe request", same quotas page). The
   quotas page does not say how a larger request is refused; clients report that IoT Core closes the connection
   without a SUBACK (dotnet/MQTTnet#1427, aws/aws-iot-device-sdk-embedded-C#1625 and #1903), which is what happens
   here: nothing of the request reaches Mosquitto.
4. **At most 7 slashes in a topic or topic filter** ("Maximum number of slashes in topic and topic filter", same
   page; the first 3 slashes of a Basic Ingest topic, ``$aws/rules/rule-name/``, do not count). A filter with more
   gets 0x80 in the SUBACK; a PUBLISH to such a topic closes the connection (MQTT 3.1.1 has no negative PUBACK,
   and AWS names no other answer). The engine refuses an HTTPS Publish to it with :func:`refuse_invalid_publish`.

Not reproduced (docs/iot-core-locally.md says why): QoS 2 (IoT Core sends no PUBACK or SUBACK
for it; Mosquitto grants it), authorization by IoT policy (Mosquitto is anonymous), the 100 publishes/s and
512 KiB/s per connection, the 24 h WebSocket lifetime, and metering. One approximation: a client that holds both an
exact subscription to a topic and a wildcard one covering it also gets the topic's retained message when it makes
the wildcard subscription (Mosquitto does not say which subscription a retained message answers).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from local_engine.server_thread import ServerThread

MAX_SUBSCRIPTIONS_PER_CONNECTION = 50
MAX_FILTERS_PER_SUBSCRIBE = 8
MAX_TOPIC_SLASHES = 7
BASIC_INGEST_PREFIX = "$aws/rules/"  # its first 3 slashes ($aws/rules/rule-name/) do not count
SUBACK_FAILURE = 0x80  # MQTT 3.1.1 SUBACK return code "Failure"; MQTT 5 reads it as "Unspecified error"

# MQTT control packet types (MQTT 3.1.1 section 2.2.1).
CONNECT, PUBLISH, PUBACK, SUBSCRIBE, SUBACK, UNSUBSCRIBE = 1, 3, 4, 8, 9, 10
MQTT_5 = 5


def topic_slashes(topic: str) -> int:
    """The slashes IoT Core counts in a topic or filter (a Basic Ingest prefix's three excepted)."""
    slashes = topic.count("/")
    return slashes - 3 if topic.lower().startswith(BASIC_INGEST_PREFIX) else slashes


def topic_problem(topic: str) -> str | None:
    """Why IoT Core refuses ``topic`` in a publish or subscribe request, or None."""
    if topic_slashes(topic) > MAX_TOPIC_SLASHES:
        return f"topic {topic!r} has more than {MAX_TOPIC_SLASHES} forward slashes (AWS IoT Core's limit)"
    return None


def refuse_invalid_publish(topic: str) -> None:
    """Refuse an HTTPS Publish (iot-data) to a topic IoT Core does not take, as its API does: 400
    ``InvalidRequestException`` (the Publish API's error for a request it cannot process); moto publishes anything."""
    if problem := topic_problem(topic):
        from moto.iotdata.exceptions import InvalidRequestException  # deferred: only the engine's moto path needs it

        raise InvalidRequestException(problem)


@dataclass(frozen=True)
class Packet:
    """One MQTT control packet: the first header byte split into type and flags, and the variable part."""

    kind: int
    flags: int
    body: bytes

    def encode(self) -> bytes:
        return bytes([self.kind << 4 | self.flags]) + _remaining_length(len(self.body)) + self.body


def _remaining_length(length: int) -> bytes:
    encoded = bytearray()
    while True:
        length, digit = divmod(length, 128)
        encoded.append(digit | (0x80 if length else 0))
        if not length:
            return bytes(encoded)


def _string(body: bytes, at: int) -> tuple[str, int]:
    length = int.from_bytes(body[at : at + 2], "big")
    return body[at + 2 : at + 2 + length].decode("utf-8", errors="replace"), at + 2 + length


def _skip_properties(body: bytes, at: int) -> int:
    """Past an MQTT 5 property block (a variable byte integer length, then the properties)."""
    length, multiplier = 0, 1
    while True:
        byte = body[at]
        at += 1
        length += (byte & 0x7F) * multiplier
        if not byte & 0x80:
            return at + length
        multiplier *= 128


@dataclass
class Verdict:
    """What one packet leads to: packets for each side, and whether the connection ends afterwards."""

    to_broker: list[bytes] = field(default_factory=list)
    to_client: list[bytes] = field(default_factory=list)
    close: bool = False


@dataclass
class _PendingSubscribe:
    codes: list[int | None]  # per filter of the client's request: a refusal code, or None (left to the broker)
    filters: list[str]
    close_after: bool


@dataclass
class IotCoreSession:
    """One client connection's view as IoT Core keeps it: its subscriptions, and its SUBSCRIBEs in flight."""

    protocol_level: int = 4
    subscriptions: set[str] = field(default_factory=set)
    _pending: dict[int, _PendingSubscribe] = field(default_factory=dict)

    def from_client(self, packet: Packet) -> Verdict:
        if packet.kind == CONNECT:
            _, at = _string(packet.body, 0)
            self.protocol_level = packet.body[at]
        elif packet.kind == SUBSCRIBE:
            return self._subscribe(packet)
        elif packet.kind == UNSUBSCRIBE:
            for topic_filter in self._filters(packet.body):
                self.subscriptions.discard(topic_filter)
        elif packet.kind == PUBLISH:
            topic, _ = _string(packet.body, 0)
            if topic_problem(topic):
                return Verdict(close=True)
        return Verdict(to_broker=[packet.encode()])

    def from_broker(self, packet: Packet) -> Verdict:
        if packet.kind == SUBACK:
            return self._suback(packet)
        if packet.kind == PUBLISH and packet.flags & 0x01:
            topic, at = _string(packet.body, 0)
            if topic not in self.subscriptions:  # only an exact filter gets a retained message
                qos = (packet.flags >> 1) & 0x03
                ack = [Packet(PUBACK, 0, packet.body[at : at + 2]).encode()] if qos == 1 else []
                return Verdict(to_broker=ack)
        return Verdict(to_client=[packet.encode()])

    def _filters(self, body: bytes) -> list[str]:
        at = _skip_properties(body, 2) if self.protocol_level == MQTT_5 else 2
        filters = []
        while at < len(body):
            topic_filter, at = _string(body, at)
            filters.append(topic_filter)
        return filters

    def _subscribe(self, packet: Packet) -> Verdict:
        body = packet.body
        packet_id = body[:2]
        start = _skip_properties(body, 2) if self.protocol_level == MQTT_5 else 2
        requested: list[tuple[str, bytes]] = []  # filter, and its encoded form with the options byte
        at = start
        while at < len(body):
            topic_filter, end = _string(body, at)
            requested.append((topic_filter, body[at : end + 1]))
            at = end + 1
        if len(requested) > MAX_FILTERS_PER_SUBSCRIBE:
            return Verdict(close=True)
        held = set(self.subscriptions)  # with the filters of SUBSCRIBEs still in flight
        for in_flight in self._pending.values():
            held.update(f for f, code in zip(in_flight.filters, in_flight.codes, strict=True) if code is None)
        codes: list[int | None] = []
        close_after = False
        for topic_filter, _ in requested:
            if topic_problem(topic_filter):
                codes.append(SUBACK_FAILURE)
            elif topic_filter in held:
                codes.append(None)
            elif len(held) < MAX_SUBSCRIPTIONS_PER_CONNECTION:
                held.add(topic_filter)
                codes.append(None)
            else:
                codes.append(SUBACK_FAILURE)
                close_after = True
        pending = _PendingSubscribe(codes, [topic_filter for topic_filter, _ in requested], close_after)
        forwarded = [encoded for (_, encoded), code in zip(requested, codes, strict=True) if code is None]
        if not forwarded:  # nothing for the broker: IoT Core answers the refusal itself
            refusals = bytes(code or SUBACK_FAILURE for code in codes)
            suback_body = packet_id + (b"\x00" if self.protocol_level == MQTT_5 else b"") + refusals
            return Verdict(to_client=[Packet(SUBACK, 0, suback_body).encode()], close=close_after)
        self._pending[int.from_bytes(packet_id, "big")] = pending
        if len(forwarded) == len(requested):
            return Verdict(to_broker=[packet.encode()])
        return Verdict(to_broker=[Packet(SUBSCRIBE, packet.flags, body[:start] + b"".join(forwarded)).encode()])

    def _suback(self, packet: Packet) -> Verdict:
        body = packet.body
        pending = self._pending.pop(int.from_bytes(body[:2], "big"), None)
        if pending is None:
            return Verdict(to_client=[packet.encode()])
        start = _skip_properties(body, 2) if self.protocol_level == MQTT_5 else 2
        granted = iter(body[start:])
        codes = [code if code is not None else next(granted, SUBACK_FAILURE) for code in pending.codes]
        for topic_filter, code in zip(pending.filters, codes, strict=True):
            if code < SUBACK_FAILURE:
                self.subscriptions.add(topic_filter)
        merged = Packet(SUBACK, packet.flags, body[:start] + bytes(codes))
        return Verdict(to_client=[merged.encode()], close=pending.close_after)


async def _read_packet(reader: asyncio.StreamReader) -> Packet | None:
    """The next whole packet, or None once the stream ends (or is not MQTT)."""
    try:
        first = (await reader.readexactly(1))[0]
        length, multiplier = 0, 1
        for _ in range(4):
            byte = (await reader.readexactly(1))[0]
            length += (byte & 0x7F) * multiplier
            if not byte & 0x80:
                break
            multiplier *= 128
        else:
            return None  # a remaining length of more than 4 bytes is malformed (MQTT 3.1.1 section 2.2.3)
        return Packet(first >> 4, first & 0x0F, await reader.readexactly(length))
    except (asyncio.IncompleteReadError, ConnectionError):
        return None


async def _pump(
    reader: asyncio.StreamReader, decide: Callable[[Packet], Verdict], apply: Callable[[Verdict], Awaitable[bool]]
) -> None:
    """Packets from one side, each decided on and applied, until the stream ends or a verdict closes it."""
    # A packet too short for its own fields (IndexError) ends the connection, as a malformed one does.
    with contextlib.suppress(ConnectionError, IndexError):
        while (packet := await _read_packet(reader)) is not None:
            if not await apply(decide(packet)):
                return


@dataclass
class IotCoreFrontDoor:
    """tcp://127.0.0.1:{port} -> tcp://127.0.0.1:{broker_port}, enforcing IoT Core's rules, on its own thread."""

    broker_port: int
    port: int = 0
    _serving: ServerThread | None = None

    def start(self) -> IotCoreFrontDoor:
        self._serving = ServerThread("iot-core-front-door")
        self.port = self._serving.start(lambda: asyncio.start_server(self._relay, "127.0.0.1", self.port))
        return self

    def stop(self) -> None:
        if self._serving is not None:
            self._serving.stop()
            self._serving = None

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            broker_reader, broker_writer = await asyncio.open_connection("127.0.0.1", self.broker_port)
        except OSError:
            client_writer.close()
            return
        session = IotCoreSession()

        async def apply(verdict: Verdict) -> bool:
            for data in verdict.to_broker:
                broker_writer.write(data)
            for data in verdict.to_client:
                client_writer.write(data)
            await broker_writer.drain()
            await client_writer.drain()
            return not verdict.close

        async def client_to_broker() -> None:
            await _pump(client_reader, session.from_client, apply)

        async def broker_to_client() -> None:
            await _pump(broker_reader, session.from_broker, apply)

        tasks = [asyncio.create_task(client_to_broker()), asyncio.create_task(broker_to_client())]
        try:
            # Either side ending (or a rule closing the connection) ends both, as IoT Core drops the client.
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for writer in (broker_writer, client_writer):
                writer.close()
                with contextlib.suppress(ConnectionError, OSError):
                    await writer.wait_closed()
