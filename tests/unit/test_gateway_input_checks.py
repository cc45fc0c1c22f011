"""The local gateway reads bodies, schema patterns and SigV4 headers as API Gateway does (no engine, no sockets)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from local_engine.engine import REGION
from local_engine.gateway import (
    MAX_BODY_DEPTH,
    InvalidBody,
    ecma_regex,
    parse_json_body,
    schema_validator,
    sigv4_problem,
    validation_errors,
)

SCHEMAS = sorted((Path(__file__).resolve().parents[2] / "docs" / "schemas").glob("*.schema.json"))
SAMPLE = json.loads((Path(__file__).resolve().parents[2] / "docs" / "samples" / "01-fixture_created.json").read_text())


def _patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            yield node["pattern"]
        for value in node.values():
            yield from _patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _patterns(value)


# Every pattern of every API model (the ingest and trader schemas), so a pattern added later is covered too
PATTERNS = sorted({pattern for path in SCHEMAS for pattern in _patterns(json.loads(path.read_text()))})


@pytest.mark.parametrize("pattern", PATTERNS)
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_no_schema_pattern_accepts_a_trailing_newline(pattern: str, data: st.DataObject) -> None:
    # Given a value the pattern accepts (ASCII classes: ECMA 262's \d and \w are ASCII)
    value = data.draw(st.from_regex(re.compile(pattern, re.ASCII), fullmatch=True))
    assert ecma_regex(pattern).search(value)

    # Then the same value with a newline after it does not match: in ECMA 262 '$' is the end of the input, where
    # Python's re.search(pattern, value + "\n") matches (the fixture id that broke the execution name template)
    assert re.search(pattern, value + "\n")
    assert not ecma_regex(pattern).search(value + "\n")


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        (r"^\d{4}$", "2026", True),
        (r"^\d{4}$", "٢٠٢٦", False),  # Arabic-Indic digits: \d in Python, not in ECMA 262
        (r"^\w+$", "équipe", False),
        (r"^a.b$", "a\u2028b", False),  # '.' excludes every ECMA line terminator
        (r"^a.b$", "a-b", True),
        (r"^a\sb$", "a\u00a0b", True),  # ECMA's \s includes the no-break space
        (r"^[\s]$", "\ufeff", True),
        (r"^[$]$", "$", True),  # '$' in a class is the character
        (r"^a\$$", "a$", True),
        (r"es", "expression", True),  # not anchored (draft 4 validation, section 5.2.3)
    ],
)
def test_patterns_have_ecma_262_semantics(pattern: str, text: str, matches: bool) -> None:
    assert bool(ecma_regex(pattern).search(text)) is matches


def test_the_feed_schema_refuses_a_fixture_id_with_a_trailing_newline() -> None:
    # Given the feed event schema as the gateway validates with it, and an event whose id ends in a newline
    (feed_schema,) = [path for path in SCHEMAS if path.name == "feed-event.schema.json"]
    validator = schema_validator(json.loads(feed_schema.read_text()))

    # Then the valid sample passes and the newline is refused, naming the field
    assert list(validation_errors(validator, SAMPLE)) == []
    problems = list(validation_errors(validator, {**SAMPLE, "fixture_id": SAMPLE["fixture_id"] + "\n"}))
    assert any(problem.startswith("fixture_id: ") for problem in problems), problems


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 1000 + b"]" * 1000, f"nested deeper than {MAX_BODY_DEPTH} levels"),
        (b'{"a": ' * 100_000 + b"1" + b"}" * 100_000, f"nested deeper than {MAX_BODY_DEPTH} levels"),
        (b'{"minute": NaN}', "NaN is not a JSON number"),
        (b'{"minute": Infinity}', "Infinity is not a JSON number"),
        (b'{"minute": -Infinity}', "-Infinity is not a JSON number"),
        (b'{"home_team": "Ars\xffnal"}', "not UTF-8 (byte 0xff at byte 18)"),
        (b'{"home_team": "\xed\xa0\x80"}', "not UTF-8 (byte 0xed at byte 15)"),  # a surrogate, UTF-8-encoded
        (b'{"home_team": "Arsenal"', "not JSON"),
    ],
    ids=["1000-deep", "100000-deep", "NaN", "Infinity", "-Infinity", "0xff", "encoded-surrogate", "unterminated"],
)
def test_a_body_api_gateway_cannot_parse_is_refused_saying_why(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidBody, match=re.escape(reason)):
        parse_json_body(body)


def test_json_that_api_gateway_parses_is_parsed_the_same() -> None:
    # Given a lone surrogate escape (valid JSON text, RFC 8259 section 8.2), brackets inside strings, and a body
    # nested exactly as deep as allowed
    nested = b"[" * MAX_BODY_DEPTH + b"]" * MAX_BODY_DEPTH

    # Then each is parsed as the JSON it is
    assert parse_json_body(b'{"home_team": "\\ud800", "x": "[[[{{{"}') == {"home_team": "\ud800", "x": "[[[{{{"}
    assert parse_json_body(nested) == json.loads(nested)


def _signed_headers() -> dict[str, str]:
    request = AWSRequest(method="POST", url="http://127.0.0.1/v1/feed-events", data=b"{}")
    SigV4Auth(Credentials("local-engine", "local-engine"), "execute-api", REGION).add_auth(request)
    return {name.lower(): value for name, value in request.headers.items()}


def test_a_header_signed_as_the_forwarder_signs_passes() -> None:
    assert sigv4_problem(_signed_headers(), region=REGION) is None


def _garbled(header: dict[str, str], old: str, new: str) -> dict[str, str]:
    return {**header, "authorization": re.sub(old, new, header["authorization"], count=1)}


@pytest.mark.parametrize(
    ("old", "new", "error_type", "message"),
    [
        (r".*", "AWS4-HMAC-SHA256 garbage", "IncompleteSignatureException", "'garbage' not a valid key=value pair"),
        (r"Credential=", "Credential ", "IncompleteSignatureException", "not a valid key=value pair"),
        (r"^.*$", "eyJhbGciOiJIUzI1NiJ9", "IncompleteSignatureException", "requires 'Credential' parameter"),
        (r", Signature=\w+", "", "IncompleteSignatureException", "requires 'Signature' parameter"),
        (r"Credential=[^/]+/", "Credential=", "IncompleteSignatureException", "exactly 5 slash-delimited elements"),
        (r"aws4_request", "aws5_request", "InvalidSignatureException", "valid terminator: 'aws4_request'"),
        (r"/execute-api/", "/s3/", "InvalidSignatureException", "scoped to correct service: 'execute-api'"),
        (f"/{REGION}/", "/us-east-1/", "InvalidSignatureException", "scoped to a valid region, not 'us-east-1'"),
        (r"/(\d{8})/", "/19990101/", "InvalidSignatureException", "Date in Credential scope does not match"),
        (r"Signature=\w+", "Signature=zz", "InvalidSignatureException", "signature we calculated does not match"),
        (r"Signature=(\w+)", r"Signature=\1\1", "InvalidSignatureException", "signature we calculated does not"),
        (r"^AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1", "InvalidSignatureException", "signature we calculated does not"),
    ],
)
def test_a_garbled_authorization_header_is_refused_in_aws_words(
    old: str, new: str, error_type: str, message: str
) -> None:
    # Given a correctly signed request whose Authorization header is then garbled
    headers = _garbled(_signed_headers(), old, new)

    # Then it is refused with the error type and message API Gateway answers with (a 403)
    refused = sigv4_problem(headers, region=REGION)
    assert refused is not None and refused[0] == error_type and message in refused[1], refused


def test_a_signed_request_without_a_date_header_is_refused() -> None:
    headers = {name: value for name, value in _signed_headers().items() if name != "x-amz-date"}
    refused = sigv4_problem(headers, region=REGION)
    assert refused is not None and "requires existence of either a 'X-Amz-Date' or a 'Date' header" in refused[1]
