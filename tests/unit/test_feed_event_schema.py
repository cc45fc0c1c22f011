"""The feed-event models, the committed JSON schema that API Gateway enforces, and the samples in docs/ agree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator
from jsonschema.exceptions import best_match
from pydantic import TypeAdapter, ValidationError

from lambdas.models.feed_events import FeedEvent
from lambdas.models.schema import SCHEMA_FILE, feed_event_schema

SAMPLES = sorted((Path(__file__).resolve().parents[2] / "docs" / "samples").glob("*.json"))
FEED_EVENT = TypeAdapter(FeedEvent)


@pytest.fixture(scope="module")
def api_gateway_validator() -> Draft4Validator:
    return Draft4Validator(json.loads(SCHEMA_FILE.read_text()))


def _goal(**changes: Any) -> dict[str, Any]:
    event = {
        "event_id": "e-1",
        "fixture_id": "FX-1",
        "sport": "football",
        "sequence": 4,
        "occurred_at": "2026-11-22T15:17:31Z",
        "type": "goal",
        "team": "home",
        "minute": 17,
    }
    event.update(changes)
    return {key: value for key, value in event.items() if value is not None}


def test_committed_schema_is_what_the_models_generate() -> None:
    # Given the committed schema file
    committed = json.loads(SCHEMA_FILE.read_text())

    # Then it is exactly what the models generate now (run `python -m lambdas.models.schema` after a change)
    assert committed == feed_event_schema()


def test_committed_schema_is_valid_draft4(api_gateway_validator: Draft4Validator) -> None:
    # Then the schema itself is a valid draft-4 document, the only draft API Gateway knows
    Draft4Validator.check_schema(api_gateway_validator.schema)
    assert api_gateway_validator.schema["$schema"] == "http://json-schema.org/draft-04/schema#"


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_every_sample_passes_the_model_and_the_schema(sample: Path, api_gateway_validator: Draft4Validator) -> None:
    # Given a documented sample event
    event = json.loads(sample.read_text())

    # Then both the pydantic model and API Gateway's schema accept it, as the same type
    assert FEED_EVENT.validate_python(event).type == event["type"]
    assert list(api_gateway_validator.iter_errors(event)) == []


def test_samples_cover_every_event_type() -> None:
    # Given the event types of the model and of the samples
    model_types = {option["properties"]["type"]["enum"][0] for option in feed_event_schema()["oneOf"]}
    sample_types = {json.loads(sample.read_text())["type"] for sample in SAMPLES}

    # Then every type has a sample
    assert sample_types == model_types


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"fixture_id": "has/slash"}, "fixture_id"),
        ({"fixture_id": None}, "fixture_id"),
        ({"sequence": 0}, "sequence"),
        ({"sequence": "4"}, "sequence"),
        ({"team": "both"}, "team"),
        ({"minute": 121}, "minute"),
        ({"occurred_at": "22/11/2026 15:17"}, "occurred_at"),
        ({"occurred_at": "2026-11-22T15:17:31"}, "occurred_at"),  # no time zone
        ({"sport": "tennis"}, "sport"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_events_are_rejected_by_both_naming_the_field(
    changes: dict[str, Any], field: str, api_gateway_validator: Draft4Validator
) -> None:
    # Given a goal event with one bad field
    event = _goal(**changes)

    # When the model and the schema check it
    with pytest.raises(ValidationError) as model_error:
        FEED_EVENT.validate_python(event, strict=True)
    schema_errors = list(api_gateway_validator.iter_errors(event))

    # Then both reject it and the model's error names the field
    assert schema_errors, "API Gateway would have accepted it"
    assert field in str(model_error.value)


def test_unknown_event_type_is_rejected_by_both(api_gateway_validator: Draft4Validator) -> None:
    # Given an event of a type the feed contract does not have
    event = _goal(type="corner")

    # Then neither accepts it
    with pytest.raises(ValidationError, match="corner"):
        FEED_EVENT.validate_python(event)
    assert list(api_gateway_validator.iter_errors(event))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"sequence": None}, "sequence"),
        ({"fixture_id": "has/slash"}, "fixture_id"),
        ({"type": "corner"}, "type"),
        ({"sport": "tennis"}, "sport"),
    ],
)
def test_envelope_faults_are_reported_naming_the_field(
    changes: dict[str, Any], field: str, api_gateway_validator: Draft4Validator
) -> None:
    # Given a goal event with a fault in its envelope
    event = _goal(**changes)

    # When the schema checks it: API Gateway reports the top-level failures, not the details nested in oneOf
    top_level = [error for error in api_gateway_validator.iter_errors(event) if error.validator != "oneOf"]
    error = best_match(top_level)

    # Then the reported error names the field: in its path, or in the message of a missing property
    assert error is not None, "only the oneOf failed: the caller would read 'matched 0 out of 10'"
    assert list(error.path) == [field] or (error.validator == "required" and repr(field) in error.message)


def test_envelope_is_the_fields_every_event_type_shares() -> None:
    # Given the schema's envelope and its per-type branches
    schema = feed_event_schema()
    branches = schema["oneOf"]

    # Then the envelope requires the shared fields with the branches' constraints, and type is one of the types
    assert schema["required"] == ["event_id", "fixture_id", "sport", "sequence", "occurred_at", "type"]
    for name in schema["required"][:-1]:
        assert all(branch["properties"][name] == schema["properties"][name] for branch in branches)
    assert schema["properties"]["type"]["enum"] == [branch["properties"]["type"]["enum"][0] for branch in branches]
    assert all(branch["additionalProperties"] is False for branch in branches)


def test_minute_limit_is_the_pricing_models() -> None:
    # Given the pricing model's last priceable minute (numpy stays out of the models: imported here only)
    from lambdas.pricing.model import MAX_MINUTE

    # Then the feed contract allows exactly the minutes the model prices
    (goal,) = [b for b in feed_event_schema()["oneOf"] if b["properties"]["type"]["enum"] == ["goal"]]
    minute = goal["properties"]["minute"]
    assert minute["maximum"] == MAX_MINUTE
    FEED_EVENT.validate_python(_goal(minute=int(MAX_MINUTE)))
    with pytest.raises(ValidationError, match="minute"):
        FEED_EVENT.validate_python(_goal(minute=int(MAX_MINUTE) + 1))
