"""Hypothesis strategies for hostile input, shared by every API's fuzz tests.

They know nothing about one API: give them a valid body and its fields, and they produce bodies with a
field of the wrong type, fields missing, strings that try to escape a template or a path (VTL, JSONPath,
quotes, newlines), and bodies past a size limit. tests/e2e/test_hostile_input.py points them at the ingest
API; the trader API's commands (issue 5) can be fuzzed the same way with their own valid bodies:

    @given(hostile.wrong_type_bodies(valid_command, ["margin", "market_type"]))
    def test_trader_api(body): status, answer = post_command(body); hostile.assert_clear_4xx(status, answer)
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

PAYLOAD_LIMIT_BYTES = 256 * 1024  # Step Functions' input limit, and the APIs' documented limit

# Text that means something to a template or an evaluator on the way: Velocity ($, #set, $util), JSONPath
# ($., [*]), JSON and JavaScript quoting (" ' \), line breaks, and the execution name's separators.
INJECTION_FRAGMENTS = [
    "$",
    "${",
    "$util.escapeJavaScript('x')",
    "#set($x = 1)",
    "$input.path('$')",
    "$.event.fixture_id",
    "$..[*]",
    "States.Format('{}', $)",
    '"',
    "'",
    "\\",
    '\\"',
    "\n",
    "\r\n",
    "\t",
    "\u2028",
    "</script>",
    "'; DROP TABLE fixtures; --",
    "{{7*7}}",
    "%s%n",
    "../../",
    "\u0000",
    "é漢🙂",
]

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def injection_text(*, min_size: int = 0, max_size: int = 80) -> st.SearchStrategy[str]:
    """Strings made of injection fragments and ordinary text, within a length bound."""
    pieces = st.lists(st.sampled_from(INJECTION_FRAGMENTS) | st.text(max_size=6), min_size=1, max_size=12)
    return pieces.map("".join).filter(lambda text: min_size <= len(text) <= max_size)


def wrong_type(value: Any) -> st.SearchStrategy[Any]:
    """Any JSON value whose JSON type differs from ``value``'s (a number for a string, a list for a number...)."""

    def json_type(candidate: Any) -> str:
        if isinstance(candidate, bool):
            return "boolean"
        if isinstance(candidate, int | float):
            return "number"
        return type(candidate).__name__

    return JSON_VALUES.filter(lambda candidate: json_type(candidate) != json_type(value))


def wrong_type_bodies(valid: dict[str, Any], fields: list[str]) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    """(field, body) with that one field of ``valid`` replaced by a value of another type."""
    return st.sampled_from(fields).flatmap(
        lambda name: wrong_type(valid[name]).map(lambda value: (name, {**valid, name: value}))
    )


def missing_field_bodies(valid: dict[str, Any], required: list[str]) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    """(a removed field, body) with one or more of ``required`` removed."""
    removed = st.lists(st.sampled_from(required), min_size=1, max_size=len(required), unique=True)
    return removed.map(lambda names: (names[0], {k: v for k, v in valid.items() if k not in names}))


def oversized_bodies(valid: dict[str, Any], text_fields: list[str]) -> st.SearchStrategy[tuple[str, bytes]]:
    """(field, body) over PAYLOAD_LIMIT_BYTES, the bulk in one text field (as JSON, so it parses)."""
    return st.tuples(st.sampled_from(text_fields), st.integers(0, 64 * 1024), st.sampled_from("aZ9 $\"'")).map(
        lambda drawn: (
            drawn[0],
            json.dumps({**valid, drawn[0]: drawn[2] * (PAYLOAD_LIMIT_BYTES + drawn[1])}).encode(),
        )
    )


def assert_clear_4xx(status: int, answer: Any, *, field: str | None = None) -> None:
    """A refusal the caller can act on: a 4xx, a JSON body with words in it, naming ``field`` when given."""
    assert 400 <= status < 500, (status, answer)
    text = json.dumps(answer)
    assert len(text) > 10, answer
    if field is not None:
        assert field in text, (field, answer)
