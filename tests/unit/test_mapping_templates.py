"""API Gateway mapping templates, rendered locally: the ingest template starts a legal, idempotent execution."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from local_engine.mapping_templates import Util, VelocityIncompatibilityError, render
from stacks.constructs.ingest_api import START_EXECUTION_TEMPLATE

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"
STATE_MACHINE_ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:FeedWorkflow"
# Step Functions execution names: 1-80 characters, none of whitespace, < > { } [ ] ? * " # % \ ^ | ~ ` $ & , ; : /
ILLEGAL_IN_EXECUTION_NAME = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/]")


def _fixture_created(**changes: Any) -> dict[str, Any]:
    event = json.loads((SAMPLES / "01-fixture_created.json").read_text())
    event.update(changes)
    return event


def _start_execution(event: dict[str, Any]) -> dict[str, Any]:
    rendered = render(START_EXECUTION_TEMPLATE % STATE_MACHINE_ARN, json.dumps(event, ensure_ascii=False))
    return json.loads(rendered)  # the integration request body must be valid JSON


EVENTS = {
    "sample": _fixture_created(),
    "quotes, backslash, non-ASCII": _fixture_created(
        home_team="O'Higgins", away_team='Atlético "B" \\ Ünïón / 東京 😀', competition="Copa d'Oro\n"
    ),
    "longest fixture id, largest sequence": _fixture_created(fixture_id="F" * 48, sequence=2**53 - 1),
    # "\ud800" is valid JSON text (RFC 8259 section 8.2) that API Gateway's parser accepts: it must not crash here
    "lone surrogate": _fixture_created(home_team="\ud800", away_team="x\udfffy"),
}


@pytest.mark.parametrize("event", EVENTS.values(), ids=EVENTS.keys())
def test_start_execution_request_carries_the_event_unchanged(event: dict[str, Any]) -> None:
    # Given a feed event (some with quotes, a backslash and non-ASCII text in its strings)
    # When the ingest API's mapping template turns it into a StartExecution request
    request = _start_execution(event)

    # Then the request names the workflow, and its input parses back to exactly the event
    assert request["stateMachineArn"] == STATE_MACHINE_ARN
    assert json.loads(request["input"]) == event


@pytest.mark.parametrize("event", EVENTS.values(), ids=EVENTS.keys())
def test_execution_name_is_the_legal_idempotency_key(event: dict[str, Any]) -> None:
    # Given a feed event
    # When the template renders the StartExecution request
    name = _start_execution(event)["name"]

    # Then the execution name is fixture id and sequence, and Step Functions accepts it as a name
    assert name == f"feed-{event['fixture_id']}-{event['sequence']}"
    assert 1 <= len(name) <= 80
    assert not ILLEGAL_IN_EXECUTION_NAME.search(name), name


def test_template_keeps_the_aws_single_quote_idiom() -> None:
    # Then the rendered VTL holds the documented idiom that turns escapeJavaScript's \' back into '
    assert """.replaceAll("\\\\'","'")""" in START_EXECUTION_TEMPLATE
    assert START_EXECUTION_TEMPLATE.count("\\") == 2


def test_informal_reference_before_a_hyphen_is_refused() -> None:
    # Given the old template, whose "$body.fixture_id-" Velocity 1.x reads as a property named "fixture_id-"
    old = START_EXECUTION_TEMPLATE.replace("${body.fixture_id}", "$body.fixture_id").replace(
        "${body.sequence}", "$body.sequence"
    )

    # Then the renderer refuses it rather than render it as airspeed would (it stops names at a hyphen)
    with pytest.raises(VelocityIncompatibilityError, match=r"\$body\.fixture_id-"):
        render(old % STATE_MACHINE_ARN, _fixture_created())


def test_string_literals_keep_their_backslashes_as_in_velocity() -> None:
    # Given a template whose regex literal is "\\'" (Velocity 1.x passes both backslashes to Java)
    template = """$util.escapeJavaScript("it's").replaceAll("\\\\'","'")|#set($r = "a\\\\b")$r"""

    # Then the regex matches backslash-quote and the literal keeps both backslashes
    assert render(template, "{}") == "it's|a\\\\b"


def test_java_replacement_syntax() -> None:
    # Given Java group references in a replaceAll replacement
    template = """$input.json('$.team').replaceAll('([a-z]+)', '<$1\\$>')"""

    # Then they refer to the groups, as in Java
    assert render(template, {"team": "home"}) == '"<home$>"'


def test_input_path_json_body_and_params() -> None:
    # Given a body and request parameters
    body = {"a": {"b": [10, {"c": "x'y"}]}, "n": 3}
    params = {"path": {"id": "7"}, "querystring": {"q": "1"}, "header": {"X-Trace": "t"}}
    template = (
        "$input.path('$.a.b[0]')|$input.path('$.a.b[1].c')|$input.json('$.a.b')|$input.path('$.missing')"
        "|$input.params('id')|$input.params('X-Trace')|$input.params().querystring.q|$input.body"
    )

    # When the template reads them
    rendered = render(template, json.dumps(body), params=params)

    # Then paths return values, json returns JSON text, params are looked up in path, querystring, header
    assert rendered.split("|") == [
        "10",
        "x'y",
        '[10,{"c":"x\'y"}]',
        "$input.path('$.missing')",  # a null renders as the reference text in Velocity (quiet refs: $!)
        "7",
        "t",
        "1",
        json.dumps(body),
    ]


def test_util_functions_as_aws_documents_them() -> None:
    # Then escapeJavaScript escapes quotes, backslash, slash, controls and non-ASCII (UTF-16, upper-case hex)
    assert Util.escapeJavaScript('O\'H "é" \\ / \n 😀') == 'O\\\'H \\"\\u00E9\\" \\\\ \\/ \\n \\uD83D\\uDE00'
    # and the others parse, URL-encode (form encoding) and base64-encode
    assert render("$util.parseJson('{\"a\": [1, 2]}').a.size()", "{}") == "2"
    assert render("$util.urlEncode('a b&c=d/é')", "{}") == "a+b%26c%3Dd%2F%C3%A9"
    assert render("$util.base64Encode('hé')", "{}") == "aMOp"


def test_context_is_what_the_caller_passes() -> None:
    # Given a request context
    context = {"requestId": "r-1", "identity": {"sourceIp": "10.0.0.1"}}

    # Then the template reads it
    assert render("$context.requestId $context.identity.sourceIp", "{}", context=context) == "r-1 10.0.0.1"


@pytest.mark.parametrize(
    ("result", "status", "body"),
    [
        ({"status": "SUCCEEDED", "executionArn": "arn:x"}, None, {"accepted": True, "outcome": "processed"}),
        (
            {"status": "FAILED", "error": "EventQuarantined", "executionArn": "arn:x"},
            None,
            {"accepted": True, "outcome": "quarantined"},
        ),
        ({"status": "FAILED", "error": "States.Timeout", "executionArn": "arn:x"}, 503, {"accepted": False}),
        ({"status": "TIMED_OUT", "executionArn": "arn:x"}, 503, {"accepted": False}),
    ],
)
def test_ingest_response_accepts_processed_and_quarantined_events_only(
    result: dict[str, str], status: int | None, body: dict[str, object]
) -> None:
    # Given the synchronous execution's end, as StartSyncExecution reports it (always HTTP 200)
    from stacks.constructs.ingest_api import FEED_RESPONSE_TEMPLATE

    context: dict[str, object] = {"responseOverride": {}}

    # When the ingest API's response template renders it
    rendered = json.loads(render(FEED_RESPONSE_TEMPLATE, json.dumps(result), context=context))

    # Then a quarantined event is accepted (it is safe on the quarantine queue), anything unfinished is a 503
    assert context["responseOverride"].get("status") == status  # type: ignore[attr-defined]
    assert body.items() <= rendered.items()


def test_index_of_and_substring_count_utf16_units_as_java_does() -> None:
    # Given a string with a character outside the BMP (two UTF-16 units in Java) before the colon
    template = "#set($s = $input.path('$.s'))$s.indexOf(':')|$s.substring(0, $s.indexOf(':'))|$s.substring(4)"

    # Then indices are Java's, and substring cuts where Java would
    assert render(template, json.dumps({"s": "a\U0001f600b:cd"})) == "4|a\U0001f600b|:cd"
    assert render(template, json.dumps({"s": "margin: too wide"})) == "6|margin|in: too wide"


def test_a_lone_surrogate_is_one_utf16_unit_as_in_java() -> None:
    # Given a string holding a lone surrogate (from the JSON escape "\ud800"), which Python's codecs refuse
    text = "a\ud800b"

    # When the Java string methods and escapeJavaScript see it
    template = "#set($s = $input.path('$.s'))$s.length()|$s.indexOf('b')|$util.escapeJavaScript($s)"

    # Then it is one UTF-16 code unit, escaped as \uD800, as Java's String and Commons Lang do
    assert render(template, json.dumps({"s": text})) == "3|2|a\\uD800b"
    assert Util.escapeJavaScript("\U0001f600\udfff") == "\\uD83D\\uDE00\\uDFFF"
