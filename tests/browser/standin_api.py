"""A STAND-IN for the trader and query APIs, for the browser tests and `make console` until the real ones land.

**This is a stand-in, to be replaced by the local gateway** (``local_engine/gateway.py`` serving the
synthesized trader/query APIs over the local engine). It implements the issue-5 contract (sign-in, fixture
list with paging, fixture detail, trader commands with 400s that name the field, 401 without a token, CORS)
over an in-memory fixture table, so the console can be driven before the backend exists. What is real
around it: every book it returns or publishes is priced by the real pricing code (``lambdas.pricing``,
``lambdas.logic.price_book``) with the trader's suspensions and margins, validated as a ``PriceMessage`` and
published as JSON on the real Mosquitto broker (``local_engine.mqtt``) on ``trading/v1/fixtures/{id}/prices``.
The stand-in keeps the trader's settings and the revision beside the fixture's state and puts them on it
before pricing, as the trader-command workflow does on the fixture item.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from lambdas.logic.iot_topics import price_topic
from lambdas.logic.price_book import fixture_status, price_message
from lambdas.models.fixture_state import FixtureState
from lambdas.models.price_message import SourceEvent
from lambdas.pricing.engine import MARKET_TYPES
from local_engine.mqtt import MqttRelay
from stacks.constants import IOT_PRICE_TOPIC_PREFIX

PAGE_SIZE = 50  # the console must follow next_token: 60 fixtures are two pages
MAX_MARGIN = 0.25
COMMANDS = ("suspend", "resume", "set_margin", "set_pre_match", "override_price")


class BadRequest(Exception):
    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name


@dataclass
class TradedFixture:
    state: FixtureState
    revision: int = 1
    suspended: bool = False  # the whole fixture, by a trader
    suspended_market_types: set[str] = field(default_factory=set)
    margins: dict[str, float] = field(default_factory=dict)
    last_event: dict[str, Any] = field(default_factory=dict)
    book: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        book = self.book or {}
        return {
            "fixture_id": self.state.fixture_id,
            "home_team": self.state.home_team,
            "away_team": self.state.away_team,
            "phase": self.state.match_phase,
            "minute": float(self.state.match_minute),
            "score": {"home": self.state.home_score, "away": self.state.away_score},
            "status": book.get("status", fixture_status(self.state)),
            "revision": self.revision,
        }


def fixture_state(fixture_id: str, home_team: str, away_team: str, **changes: Any) -> FixtureState:
    """An in-play fixture as the feed workflow would leave it (changes: home_score=1, match_minute=55, ...)."""
    values: dict[str, Any] = {
        "fixture_id": fixture_id,
        "sport": "football",
        "last_sequence": 3,
        "last_event_type": "clock",
        "home_team": home_team,
        "away_team": away_team,
        "home_goals_expected": 1.55,
        "away_goals_expected": 1.15,
        "match_phase": "in_play",
        "match_minute": 10,
    }
    values.update(changes)
    return FixtureState.model_validate(values)


def book_for(fixture: TradedFixture, generated_at: datetime) -> dict[str, Any]:
    """The real ``price_message`` for the fixture's state with the trader's settings and revision on it."""
    state = fixture.state.model_copy(
        update={
            "revision": fixture.revision,
            "trader_suspended": fixture.suspended,
            "suspended_market_types": frozenset(fixture.suspended_market_types),
            "margins": dict(fixture.margins),
        }
    )
    source = SourceEvent.model_validate(
        {
            "event_id": f"{state.fixture_id}-{state.last_sequence}",
            "type": fixture.last_event.get("type", "clock"),
            "occurred_at": generated_at,
        }
    )
    return price_message(source=source, state=state, generated_at=generated_at).model_dump(mode="json")


class StandInTradingApi:
    """The trader API and the query API on one loopback port (both under /v1), publishing books over MQTT."""

    def __init__(self, *, broker_port: int, port: int = 0) -> None:
        self.fixtures: dict[str, TradedFixture] = {}
        self.commands: list[tuple[str, dict[str, Any]]] = []  # (fixture_id, request body) as received
        self.tokens: dict[str, str] = {}  # token -> user name
        self._lock = threading.Lock()
        self._relay = MqttRelay(broker_port)
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> StandInTradingApi:
        self._relay.connect()
        self._thread = threading.Thread(target=self._server.serve_forever, name="stand-in-api", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._relay.close()

    # --- the feed side: what the feed workflow would do to a fixture ---

    def add_fixture(self, state: FixtureState, *, publish: bool = False) -> dict[str, Any]:
        with self._lock:
            fixture = TradedFixture(state)
            fixture.book = book_for(fixture, datetime.now(UTC))
            self.fixtures[state.fixture_id] = fixture
        if publish:
            self._publish(fixture.book)
        return fixture.book

    def feed(self, fixture_id: str, event: dict[str, Any] | None = None, **state_changes: Any) -> dict[str, Any]:
        """Apply a feed event's effect (``state_changes``) and price it; returns the book, not yet published."""
        with self._lock:
            fixture = self.fixtures[fixture_id]
            sequence = fixture.state.last_sequence + 1
            fixture.state = fixture.state.model_copy(update={"last_sequence": sequence, **state_changes})
            fixture.last_event = dict(event or {})
            fixture.revision += 1
            fixture.book = book_for(fixture, datetime.now(UTC))
            return fixture.book

    def publish_book(self, book: dict[str, Any]) -> float:
        """Publish on the broker; returns the wall-clock time (s) just before the publish."""
        published_at = time.time()
        self._publish(book)
        return published_at

    def _publish(self, book: dict[str, Any]) -> None:
        self._relay.publish(
            price_topic(IOT_PRICE_TOPIC_PREFIX, book["fixture_id"]), json.dumps(book).encode(), qos=1, retain=False
        )

    # --- the trader and query APIs ---

    def handle(self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: Any) -> tuple[int, Any]:
        parts = [unquote(part) for part in path.strip("/").split("/")]
        if parts[:1] != ["v1"]:
            return 404, {"message": "not found"}
        parts = parts[1:]
        if method == "POST" and parts == ["local", "sign-in"]:
            return self._sign_in(body)
        if headers.get("Authorization") not in self.tokens:
            return 401, {"message": "Unauthorized"}
        if method == "GET" and parts == ["fixtures"]:
            return self._list(query)
        if parts[:1] != ["fixtures"] or len(parts) < 2:
            return 404, {"message": "not found"}
        fixture = self.fixtures.get(parts[1])
        if fixture is None:
            return 404, {"message": f"fixture_id: no fixture {parts[1]}", "field": "fixture_id"}
        if method == "GET" and len(parts) == 2:
            return 200, {"fixture": {**fixture.summary(), "margins": dict(fixture.margins)}, "book": fixture.book}
        if method == "POST" and parts[2:] == ["commands"]:
            return self._command(fixture, body)
        return 404, {"message": "not found"}

    def _sign_in(self, body: Any) -> tuple[int, Any]:
        username = body.get("username") if isinstance(body, dict) else None
        if not isinstance(username, str) or not username.strip():
            return 400, {"message": "username: required", "field": "username"}
        token = f"local-{secrets.token_hex(16)}"
        self.tokens[token] = username
        return 200, {"token": token}

    def _list(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        start = int(query.get("next_token", ["0"])[0])
        ids = sorted(self.fixtures)
        page = ids[start : start + PAGE_SIZE]
        next_token = str(start + PAGE_SIZE) if start + PAGE_SIZE < len(ids) else None
        return 200, {"fixtures": [self.fixtures[i].summary() for i in page], "next_token": next_token}

    def _command(self, fixture: TradedFixture, body: Any) -> tuple[int, Any]:
        self.commands.append((fixture.state.fixture_id, body))
        try:
            command = _validated_command(body)
        except BadRequest as error:
            return 400, {"message": str(error), "field": error.field}
        with self._lock:
            market_type = command.get("market_type")
            if command["command"] == "suspend":
                if market_type is None:
                    fixture.suspended = True
                else:
                    fixture.suspended_market_types.add(market_type)
            elif command["command"] == "resume":
                if market_type is None:
                    fixture.suspended = False
                else:
                    fixture.suspended_market_types.discard(market_type)
            elif command["command"] == "set_margin":
                fixture.margins[market_type] = float(command["margin"])
            fixture.revision += 1
            fixture.book = book_for(fixture, datetime.now(UTC))
            book = fixture.book
        self._publish(book)
        return 200, {
            "fixture_id": fixture.state.fixture_id,
            "command": command["command"],
            "revision": book["revision"],
            "book": book,
        }

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _cors(self) -> None:
                # The console is served from another origin (CloudFront in AWS, another port here).
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Access-Control-Allow-Headers", "Authorization, Content-Type")
                self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")

            def do_OPTIONS(self) -> None:  # noqa: N802 - http.server's naming
                self.send_response(204)
                self._cors()
                self.end_headers()

            def do_GET(self) -> None:  # noqa: N802
                self._serve("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._serve("POST")

            def _serve(self, method: str) -> None:
                url = urlsplit(self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw) if raw else None
                except json.JSONDecodeError:
                    status, answer = 400, {"message": "body: not JSON", "field": "body"}
                else:
                    status, answer = api.handle(method, url.path, parse_qs(url.query), self.headers, body)
                encoded = json.dumps(answer).encode()
                self.send_response(status)
                self._cors()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(encoded)))
                self.end_headers()
                self.wfile.write(encoded)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
                pass

        return Handler


def _validated_command(body: Any) -> dict[str, Any]:
    """The contract's checks, each naming its field (the real trader API's request model does the same)."""
    if not isinstance(body, dict):
        raise BadRequest("body", "must be a JSON object")
    if body.get("command") not in COMMANDS:
        raise BadRequest("command", f"must be one of {', '.join(COMMANDS)}")
    market_type = body.get("market_type")
    if market_type is not None and market_type not in MARKET_TYPES:
        raise BadRequest("market_type", f"must be one of {', '.join(MARKET_TYPES)}")
    if body["command"] == "set_margin":
        if market_type is None:
            raise BadRequest("market_type", "required for set_margin")
        margin = body.get("margin")
        if isinstance(margin, bool) or not isinstance(margin, int | float) or not 0 <= margin <= MAX_MARGIN:
            raise BadRequest("margin", f"must be between 0 and {MAX_MARGIN} (a fraction: 0.05 is 5 %)")
    return body


SAMPLE_TEAMS = [
    ("Arsenal", "Chelsea"),
    ("Manchester City", "Wolves"),
    ("Liverpool", "Everton"),
    ("Tottenham", "Newcastle"),
    ("Aston Villa", "Brighton"),
    ("West Ham", "Fulham"),
    ("Brentford", "Crystal Palace"),
    ("Bournemouth", "Nottingham Forest"),
]


def sample_fixtures(count: int) -> Iterator[FixtureState]:
    """``count`` in-play fixtures with varied minutes and scores (ids EPL-2026-001...)."""
    for index in range(count):
        home, away = SAMPLE_TEAMS[index % len(SAMPLE_TEAMS)]
        if index >= len(SAMPLE_TEAMS):
            home, away = f"{home} {index // len(SAMPLE_TEAMS) + 1}", f"{away} {index // len(SAMPLE_TEAMS) + 1}"
        yield fixture_state(
            f"EPL-2026-{index + 1:03d}",
            home,
            away,
            match_minute=12 + (index * 7) % 70,
            home_score=index % 3,
            away_score=(index // 2) % 2,
            home_goals_expected=1.3 + (index % 5) * 0.12,
            away_goals_expected=0.9 + (index % 4) * 0.1,
        )
