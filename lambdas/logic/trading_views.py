"""What the query API shows of a fixture and its books: plain JSON from the stored items."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from lambdas.logic.price_book import fixture_status
from lambdas.models.fixture_state import FixtureState

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
_PAGE_SIZE = re.compile(r"[0-9]{1,3}")  # ASCII digits only: str.isdigit() also accepts '²', which int() refuses


class QueryInputError(ValueError):
    """A bad query parameter, named."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field


class UnreadableFixture(ValueError):
    """A stored fixture item the model refuses (written by an older or a broken workflow), its field named."""

    def __init__(self, fixture_id: str | None, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.fixture_id = fixture_id
        self.field = field
        self.reason = reason


def read_fixture(stored: Mapping[str, Any]) -> FixtureState:
    """The fixture a stored item (plain values) holds, or :class:`UnreadableFixture` naming its first bad field."""
    try:
        return FixtureState.model_validate(dict(stored))
    except ValidationError as error:
        fixture_id = stored.get("fixture_id")
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "item"
        raise UnreadableFixture(fixture_id if isinstance(fixture_id, str) else None, field, first["msg"]) from None


def fixture_summary(state: FixtureState) -> dict[str, Any]:
    return {
        "fixture_id": state.fixture_id,
        "home_team": state.home_team,
        "away_team": state.away_team,
        "phase": state.match_phase,
        "minute": state.match_minute,
        "score": {"home": state.home_score, "away": state.away_score},
        "status": fixture_status(state),
        "revision": state.revision,
        "last_sequence": state.last_sequence,
    }


def fixture_detail(state: FixtureState, *, at: datetime) -> dict[str, Any]:
    """The summary plus the cards and the trader's settings in force ``at`` (expired overrides are not)."""
    return {
        **fixture_summary(state),
        "red_cards": {"home": state.home_red_cards, "away": state.away_red_cards},
        "suspension_reason": state.suspension_reason,
        "trading": {
            "suspended": state.trader_suspended,
            "suspended_market_types": sorted(state.suspended_market_types),
            "suspended_markets": [
                {"market_type": market_type, "line": line} for market_type, line in sorted(state.suspended_markets)
            ],
            "margins": dict(sorted(state.margins.items())),
            "price_overrides": [
                {
                    "market_type": market_type,
                    "line": line,
                    "selection": selection,
                    "price": override.price,
                    "expires_at": override.expires_at.isoformat(),
                }
                for (market_type, line, selection), override in sorted(
                    state.price_overrides.items(), key=lambda item: (item[0][0], item[0][1] or 0.0, item[0][2])
                )
                if override.expires_at > at
            ],
        },
    }


def page_size(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE_SIZE
    if not _PAGE_SIZE.fullmatch(raw) or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise QueryInputError("limit", f"must be a whole number from 1 to {MAX_PAGE_SIZE}, got {raw!r}")
    return int(raw)


def encode_page_token(last_key: dict[str, Any] | None) -> str | None:
    """DynamoDB's LastEvaluatedKey as an opaque URL-safe token (None on the last page)."""
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(last_key, sort_keys=True).encode()).decode()


def decode_page_token(token: str | None, *, key_types: Mapping[str, str]) -> dict[str, Any] | None:
    """The DynamoDB key a token stands for, checked attribute by attribute (``key_types``: name to ``S`` or ``N``).

    A token is opaque to clients but not signed: one edited by hand must be a 400 naming ``next_token``, not a
    DynamoDB validation error answered as a 502.
    """
    if token is None:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested deep
        raise QueryInputError("next_token", "is not a token this API returned") from None
    if (
        not isinstance(key, dict)
        or sorted(key) != sorted(key_types)
        or not all(_is_key_value(key[name], kind) for name, kind in key_types.items())
    ):
        raise QueryInputError("next_token", "is not a token this API returned")
    return key


def _is_key_value(value: object, kind: str) -> bool:
    if not isinstance(value, dict) or list(value) != [kind] or not isinstance(value[kind], str):
        return False
    text = value[kind]
    if kind == "N":
        return text.isascii() and text.isdigit() and len(text) <= 20
    return 1 <= len(text) <= 1024 and _is_utf8(text)


def _is_utf8(text: str) -> bool:
    """A key DynamoDB returned is UTF-8; a lone surrogate (a legal JSON escape) is not, and could not be sent."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
