"""The feed-event models, the committed JSON schema that API Gateway enforces, and the samples in docs/ agree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator
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
        ({"minute": 131}, "minute"),
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
