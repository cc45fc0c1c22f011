"""Configuration of the on-prem bridges, read once from the environment.

Every setting is one variable (docs/onprem.md lists them all). A missing or malformed value stops the
process at start with an error naming the variable and what is wrong, never half-way through a stream.
Extra librdkafka properties (TLS, SASL, ...) pass through as ``KAFKA_PROPERTY_<NAME>``: the name is
lower-cased and ``_`` becomes ``.`` (``KAFKA_PROPERTY_SECURITY_PROTOCOL=SSL`` -> ``security.protocol``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlparse

KAFKA_PROPERTY_PREFIX = "KAFKA_PROPERTY_"
# API Gateway answers a REST integration within 29 s (its default integration timeout; a 504 after it). A client
# that gives up sooner sends the event again while its first execution still runs: wait for the API's answer.
API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS = 29.0
MIN_REQUEST_TIMEOUT_SECONDS = API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS + 1
DEFAULT_REQUEST_TIMEOUT_SECONDS = 35.0


class SettingsError(ValueError):
    """A variable is missing or malformed; the message names it."""


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap_servers: str
    # Extra librdkafka properties from KAFKA_PROPERTY_* (security.protocol, sasl.mechanism, ...).
    properties: dict[str, str] = field(default_factory=dict)

    def client_config(self) -> dict[str, str]:
        return {"bootstrap.servers": self.bootstrap_servers, **self.properties}


@dataclass(frozen=True)
class HealthSettings:
    host: str
    port: int


@dataclass(frozen=True)
class ForwarderSettings:
    kafka: KafkaSettings
    feed_topic: str
    dead_letter_topic: str
    group_id: str
    session_timeout_ms: int
    ingest_url: str
    region: str
    role_arn: str | None
    max_in_flight: int
    max_buffered: int
    request_timeout_seconds: float
    retry_base_seconds: float
    retry_max_seconds: float
    commit_interval_seconds: float
    shutdown_grace_seconds: float
    health: HealthSettings


@dataclass(frozen=True)
class PollerSettings:
    kafka: KafkaSettings
    outbound_topic: str
    queue_urls: tuple[str, ...]
    region: str
    role_arn: str | None
    sqs_endpoint_url: str | None
    wait_time_seconds: int
    max_messages: int
    delivery_timeout_seconds: float
    health: HealthSettings


class _Reader:
    """Reads typed values from an environment mapping; every failure names the variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def text(self, name: str, default: str | None = None) -> str:
        value = self.environ.get(name, "").strip()
        if value:
            return value
        if default is None:
            raise SettingsError(f"{name}: required, not set")
        return default

    def optional(self, name: str) -> str | None:
        return self.environ.get(name, "").strip() or None

    def integer(self, name: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
        raw = self.text(name, str(default))
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name}: expected a whole number, got {raw!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
            raise SettingsError(f"{name}: must be {bounds}, got {value}")
        return value

    def seconds(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        raw = self.text(name, str(default))
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name}: expected a number of seconds, got {raw!r}") from None
        if value < minimum:
            raise SettingsError(f"{name}: must be at least {minimum}, got {value}")
        return value

    def url(self, name: str, *, required: bool = True) -> str | None:
        value = self.text(name) if required else self.optional(name)
        if value is None:
            return None
        parsed = urlparse(value)
        if parsed.scheme not in {"http", "https"} or not parsed.netloc:
            raise SettingsError(f"{name}: expected an http(s) URL, got {value!r}")
        return value

    def role_arn(self, name: str) -> str | None:
        value = self.optional(name)
        if value is not None and not (value.startswith("arn:aws") and ":iam::" in value and ":role/" in value):
            raise SettingsError(f"{name}: expected an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME), got {value!r}")
        return value

    def kafka(self) -> KafkaSettings:
        properties = {
            name.removeprefix(KAFKA_PROPERTY_PREFIX).lower().replace("_", "."): value
            for name, value in self.environ.items()
            if name.startswith(KAFKA_PROPERTY_PREFIX) and value
        }
        for reserved in ("bootstrap.servers", "group.id", "enable.auto.commit"):
            if reserved in properties:
                raise SettingsError(
                    f"{KAFKA_PROPERTY_PREFIX}{reserved.upper().replace('.', '_')}: set by the bridge itself, "
                    "not through KAFKA_PROPERTY_*"
                )
        return KafkaSettings(self.text("KAFKA_BOOTSTRAP_SERVERS"), properties)

    def health(self) -> HealthSettings:
        return HealthSettings(self.text("HEALTH_HOST", "0.0.0.0"), self.integer("HEALTH_PORT", 8080, minimum=0))  # noqa: S104 - the container's probe port


def forwarder_settings(environ: Mapping[str, str]) -> ForwarderSettings:
    """The feed forwarder's settings from ``environ`` (raises SettingsError naming the variable)."""
    read = _Reader(environ)
    feed_topic = read.text("FEED_TOPIC")
    dead_letter_topic = read.text("DEAD_LETTER_TOPIC")
    if dead_letter_topic == feed_topic:
        raise SettingsError("DEAD_LETTER_TOPIC: must differ from FEED_TOPIC")
    retry_base = read.seconds("RETRY_BASE_SECONDS", 0.2, minimum=0.001)
    retry_max = read.seconds("RETRY_MAX_SECONDS", 20.0, minimum=0.001)
    if retry_max < retry_base:
        raise SettingsError(f"RETRY_MAX_SECONDS: must be at least RETRY_BASE_SECONDS ({retry_base}), got {retry_max}")
    max_in_flight = read.integer("MAX_IN_FLIGHT", 16, minimum=1, maximum=256)
    max_buffered = read.integer("MAX_BUFFERED", 1000, minimum=1)
    if max_buffered < max_in_flight:
        raise SettingsError(f"MAX_BUFFERED: must be at least MAX_IN_FLIGHT ({max_in_flight}), got {max_buffered}")
    ingest_url = read.url("INGEST_URL")
    assert ingest_url is not None
    return ForwarderSettings(
        kafka=read.kafka(),
        feed_topic=feed_topic,
        dead_letter_topic=dead_letter_topic,
        group_id=read.text("KAFKA_GROUP_ID", "feed-forwarder"),
        session_timeout_ms=read.integer("KAFKA_SESSION_TIMEOUT_MS", 45000, minimum=1000),
        ingest_url=ingest_url,
        region=read.text("AWS_REGION"),
        role_arn=read.role_arn("FORWARDER_ROLE_ARN"),
        max_in_flight=max_in_flight,
        max_buffered=max_buffered,
        request_timeout_seconds=read.seconds(
            "REQUEST_TIMEOUT_SECONDS", DEFAULT_REQUEST_TIMEOUT_SECONDS, minimum=MIN_REQUEST_TIMEOUT_SECONDS
        ),
        retry_base_seconds=retry_base,
        retry_max_seconds=retry_max,
        commit_interval_seconds=read.seconds("COMMIT_INTERVAL_SECONDS", 1.0),
        shutdown_grace_seconds=read.seconds("SHUTDOWN_GRACE_SECONDS", 30.0),
        health=read.health(),
    )


def poller_settings(environ: Mapping[str, str]) -> PollerSettings:
    """The outbound poller's settings from ``environ`` (raises SettingsError naming the variable)."""
    read = _Reader(environ)
    queue_urls = tuple(url.strip() for url in read.text("SQS_QUEUE_URLS").split(",") if url.strip())
    for url in queue_urls:
        if urlparse(url).scheme not in {"http", "https"}:
            raise SettingsError(f"SQS_QUEUE_URLS: expected comma-separated queue URLs, got {url!r}")
    return PollerSettings(
        kafka=read.kafka(),
        outbound_topic=read.text("OUTBOUND_TOPIC"),
        queue_urls=queue_urls,
        region=read.text("AWS_REGION"),
        role_arn=read.role_arn("POLLER_ROLE_ARN"),
        sqs_endpoint_url=read.url("SQS_ENDPOINT_URL", required=False),
        # SQS allows 0-20 s long polls and 1-10 messages a receive.
        wait_time_seconds=read.integer("WAIT_TIME_SECONDS", 20, minimum=0, maximum=20),
        max_messages=read.integer("MAX_MESSAGES", 10, minimum=1, maximum=10),
        delivery_timeout_seconds=read.seconds("DELIVERY_TIMEOUT_SECONDS", 30.0, minimum=0.1),
        health=read.health(),
    )
