"""FAKES of the AWS services the console calls in AWS mode, answered inside the browser by Playwright's interception.

**None of this is AWS.** Playwright answers the page's requests to Cognito user pools (password sign-in, the MFA
challenge, token refresh), Cognito identity (credentials for the identity), ``POST /v1/realtime/session`` (which
in AWS attaches the IoT policy) and AWS IoT Core's MQTT over WebSocket (a minimal MQTT 3.1.1 broker: CONNECT,
SUBSCRIBE, PINGREQ, and QoS 0 PUBLISH to the page). Each fake speaks only what the console uses, in the shapes
AWS documents, and records what it was asked, so tests can make AWS fail, expire a token or drop a connection.
Real around them: the page as deployed (``build_site``), its MQTT bundle and SigV4 presigner, Chromium, and the
stand-in trader and query APIs (``standin_api.py``), which accept the ID tokens the fake Cognito issues.
"""

from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from local_engine.console_server import PRICE_TOPIC_FILTER
from tests.browser.standin_api import StandInTradingApi

REGION = "eu-west-1"
USER_POOL_ID = f"{REGION}_FakePool1"
USER_POOL_CLIENT_ID = "fakeconsoleclient0000000000"
IDENTITY_POOL_ID = f"{REGION}:00000000-0000-4000-8000-000000000000"
# Cognito identity ids are "region:uuid"; the IoT policy lets this identity connect as client/{identity id}-*.
IDENTITY_ID = f"{REGION}:6f1c2a4e-8b3d-4c5e-9f70-1a2b3c4d5e6f"
IOT_ENDPOINT = f"a1b2c3d4e5f6g7-ats.iot.{REGION}.amazonaws.com"
MFA_SESSION = "fake-mfa-session"
CORS_HEADERS = {"Access-Control-Allow-Origin": "*"}


def aws_config(trading_api: StandInTradingApi) -> dict[str, Any]:
    """config.json as the Console stack writes it (stacks/constructs/trader_console.py), with the fakes' ids."""
    return {
        "stage": "fake-aws",
        "traderApiUrl": trading_api.url,
        "queryApiUrl": trading_api.url,
        "auth": {
            "mode": "cognito",
            "region": REGION,
            "userPoolId": USER_POOL_ID,
            "userPoolClientId": USER_POOL_CLIENT_ID,
            "identityPoolId": IDENTITY_POOL_ID,
        },
        "realtime": {"mode": "iot", "region": REGION, "endpoint": IOT_ENDPOINT, "topicFilter": PRICE_TOPIC_FILTER},
    }


def _base64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _fulfill_json(route: Any, status: int, body: dict[str, Any], content_type: str = "application/json") -> None:
    route.fulfill(status=status, headers=CORS_HEADERS, content_type=content_type, body=json.dumps(body))


class FakeCognito:
    """Cognito user pools (USER_PASSWORD_AUTH, SOFTWARE_TOKEN_MFA, REFRESH_TOKEN_AUTH) and identity credentials."""

    def __init__(self, trading_api: StandInTradingApi) -> None:
        self.trading_api = trading_api
        self.token_lifetime_s = 3600  # an hour, as Cognito issues them; a test may shorten it
        self.calls: list[dict[str, Any]] = []  # the user-pool requests' bodies
        self.id_tokens: list[str] = []  # in the order issued
        self.refresh_token = "fake-refresh-token-1"

    def refreshes(self) -> list[dict[str, Any]]:
        return [body for body in self.calls if body.get("AuthFlow") == "REFRESH_TOKEN_AUTH"]

    def expire(self, id_token: str) -> None:
        """The trader API refuses the token from now on, as API Gateway's authorizer does after ``exp``."""
        self.trading_api.tokens.pop(id_token, None)

    def _issue(self, username: str, *, with_refresh_token: bool) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "sub": "fake-sub",
            "cognito:username": username,
            "token_use": "id",
            "iat": now,
            "exp": now + self.token_lifetime_s,
        }
        id_token = f"{_base64url({'alg': 'none'})}.{_base64url(claims)}.fake-signature-{len(self.id_tokens) + 1}"
        self.id_tokens.append(id_token)
        self.trading_api.tokens[id_token] = username
        result = {"IdToken": id_token, "AccessToken": "fake-access", "ExpiresIn": self.token_lifetime_s}
        if with_refresh_token:  # Cognito returns no new refresh token on REFRESH_TOKEN_AUTH (without rotation)
            result["RefreshToken"] = self.refresh_token
        return {"AuthenticationResult": {**result, "TokenType": "Bearer"}, "ChallengeParameters": {}}

    def user_pool(self, route: Any) -> None:
        operation = (route.request.headers.get("x-amz-target") or "").rsplit(".", 1)[-1]
        body = json.loads(route.request.post_data or "{}")
        self.calls.append(body)
        answer: dict[str, Any]
        if operation == "InitiateAuth" and body.get("AuthFlow") == "USER_PASSWORD_AUTH":
            answer = {"ChallengeName": "SOFTWARE_TOKEN_MFA", "Session": MFA_SESSION, "ChallengeParameters": {}}
        elif operation == "RespondToAuthChallenge" and body.get("Session") == MFA_SESSION:
            answer = self._issue(body["ChallengeResponses"]["USERNAME"], with_refresh_token=True)
        elif operation == "InitiateAuth" and body.get("AuthParameters", {}).get("REFRESH_TOKEN") == self.refresh_token:
            answer = self._issue("alice", with_refresh_token=False)
        else:
            _fulfill_json(route, 400, {"__type": "NotAuthorizedException", "message": "Invalid request"})
            return
        _fulfill_json(route, 200, answer, "application/x-amz-json-1.1")

    def identity(self, route: Any) -> None:
        body = json.loads(route.request.post_data or "{}")
        id_token = body.get("Logins", {}).get(f"cognito-idp.{REGION}.amazonaws.com/{USER_POOL_ID}")
        if body.get("IdentityId") != IDENTITY_ID or id_token not in self.id_tokens:
            _fulfill_json(route, 400, {"__type": "NotAuthorizedException", "message": "Invalid login token"})
            return
        credentials = {
            "AccessKeyId": "ASIAFAKEFAKEFAKE0000",
            "SecretKey": "fake-secret",
            "SessionToken": "fake-session-token",
            "Expiration": int(time.time()) + 3600,
        }
        _fulfill_json(route, 200, {"IdentityId": IDENTITY_ID, "Credentials": credentials}, "application/x-amz-json-1.1")


class FakeRealtimeSession:
    """``POST /v1/realtime/session``: answers the statuses in ``failures`` first (5xx, say), then the identity id."""

    def __init__(self) -> None:
        self.failures: list[int] = []
        self.requested_at: list[float] = []  # time.monotonic() of each request

    def handle(self, route: Any) -> None:
        self.requested_at.append(time.monotonic())
        if self.failures:
            _fulfill_json(route, self.failures.pop(0), {"message": "Internal server error"})
        else:
            _fulfill_json(route, 200, {"identityId": IDENTITY_ID})


def _read_length(data: bytes, at: int) -> tuple[int, int] | None:
    """MQTT's variable-length integer at ``at``: (value, index after it), or None when more bytes are needed."""
    value = 0
    for shift, index in zip(range(0, 28, 7), range(at, len(data)), strict=False):
        value |= (data[index] & 0x7F) << shift
        if not data[index] & 0x80:
            return value, index + 1
    return None


def _encode_length(value: int) -> bytes:
    encoded = bytearray()
    while True:
        value, digit = divmod(value, 128)
        encoded.append(digit | (0x80 if value else 0))
        if not value:
            return bytes(encoded)


def _read_string(data: bytes, at: int) -> tuple[str, int]:
    length = int.from_bytes(data[at : at + 2], "big")
    return data[at + 2 : at + 2 + length].decode(), at + 2 + length


def _encode_string(text: str) -> bytes:
    encoded = text.encode()
    return len(encoded).to_bytes(2, "big") + encoded


def _matches(topic_filter: str, topic: str) -> bool:
    pattern = "/".join("[^/]+" if level == "+" else re.escape(level) for level in topic_filter.split("/"))
    return re.fullmatch(pattern, topic) is not None


@dataclass
class FakeIotConnection:
    route: Any
    client_id: str | None = None
    subscriptions: list[str] = field(default_factory=list)
    open: bool = True
    buffer: bytes = b""


class FakeIotCore:
    """AWS IoT Core's MQTT-over-WebSocket endpoint, as far as the console uses it (MQTT 3.1.1, QoS 0 delivery).

    As IoT Core does, a CONNECT with a client id already connected disconnects the older connection.
    """

    def __init__(self) -> None:
        self.connections: list[FakeIotConnection] = []

    def accept(self, route: Any) -> None:
        connection = FakeIotConnection(route)
        self.connections.append(connection)
        route.on_message(lambda message: self._received(connection, message))
        route.on_close(lambda *_: setattr(connection, "open", False))

    def live(self) -> list[FakeIotConnection]:
        return [c for c in self.connections if c.open and c.subscriptions]

    def publish(self, topic: str, payload: bytes) -> int:
        """Deliver to every open connection subscribed to a matching filter; returns how many got it."""
        body = _encode_string(topic) + payload
        packet = bytes([0x30]) + _encode_length(len(body)) + body
        receivers = [c for c in self.connections if c.open and any(_matches(f, topic) for f in c.subscriptions)]
        for connection in receivers:
            connection.route.send(packet)
        return len(receivers)

    def drop(self, connection: FakeIotConnection) -> None:
        """The network drops the connection (the page sees its WebSocket close)."""
        connection.open = False
        connection.route.close(code=1001, reason="connection lost")

    def _received(self, connection: FakeIotConnection, message: str | bytes) -> None:
        connection.buffer += message.encode() if isinstance(message, str) else message
        while connection.open and len(connection.buffer) >= 2:
            header = _read_length(connection.buffer, 1)
            if header is None or header[1] + header[0] > len(connection.buffer):
                return  # the rest of the packet is in a later frame
            length, start = header
            packet_type, body = connection.buffer[0] >> 4, connection.buffer[start : start + length]
            connection.buffer = connection.buffer[start + length :]
            self._handle(connection, packet_type, body)

    def _handle(self, connection: FakeIotConnection, packet_type: int, body: bytes) -> None:
        if packet_type == 1:  # CONNECT: protocol name, level, flags, keep-alive, then the client id
            _, at = _read_string(body, 0)
            connection.client_id, _ = _read_string(body, at + 4)
            for older in self.connections:
                if older is not connection and older.open and older.client_id == connection.client_id:
                    self.drop(older)  # IoT Core: a duplicate client id disconnects the older connection
            connection.route.send(bytes([0x20, 0x02, 0x00, 0x00]))  # CONNACK, accepted
        elif packet_type == 8:  # SUBSCRIBE: packet id, then (filter, QoS) pairs
            at, granted = 2, bytearray()
            while at < len(body):
                topic_filter, at = _read_string(body, at)
                connection.subscriptions.append(topic_filter)
                granted.append(min(body[at], 1))
                at += 1
            connection.route.send(bytes([0x90]) + _encode_length(2 + len(granted)) + body[:2] + bytes(granted))
        elif packet_type == 12:  # PINGREQ
            connection.route.send(bytes([0xD0, 0x00]))
        elif packet_type == 14:  # DISCONNECT
            connection.open = False


class FakeAws:
    """The fakes together, routed in one browser context (every tab of it talks to the same fake AWS)."""

    def __init__(self, trading_api: StandInTradingApi) -> None:
        self.cognito = FakeCognito(trading_api)
        self.realtime_session = FakeRealtimeSession()
        self.iot = FakeIotCore()
        self._session_url = f"{trading_api.url}/realtime/session"

    def install(self, context: Any) -> None:
        context.route(f"https://cognito-idp.{REGION}.amazonaws.com/", self.cognito.user_pool)
        context.route(f"https://cognito-identity.{REGION}.amazonaws.com/", self.cognito.identity)
        context.route(self._session_url, self.realtime_session.handle)
        context.route_web_socket(lambda url: url.startswith(f"wss://{IOT_ENDPOINT}/mqtt?"), self.iot.accept)
