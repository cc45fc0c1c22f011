"""What both workflows write and publish for a fixture, built once: the conditional fixture update, the stored
book, the SNS attributes and the publication claim (statemachines/*.asl.json pass these through unchanged)."""

from __future__ import annotations

from typing import Any

from lambdas.adapters.dynamodb_json import to_dynamodb_value
from lambdas.models.fixture_state import FixtureState
from lambdas.models.price_message import PriceMessage


def fixture_update(
    fixture_id: str, sets: dict[str, Any], removes: list[str] | tuple[str, ...], *, expected_revision: int | None
) -> dict[str, Any]:
    """An UpdateItem of ``sets`` and ``removes`` on the fixture, conditional on the revision the change was decided
    on (optimistic concurrency), or on the fixture not existing yet (``expected_revision`` None)."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    assignments: list[str] = []
    for index, (name, value) in enumerate(sorted(sets.items())):
        names[f"#s{index}"] = name
        values[f":s{index}"] = to_dynamodb_value(value)
        assignments.append(f"#s{index} = :s{index}")
    removed = []
    for index, name in enumerate(sorted(removes)):
        names[f"#r{index}"] = name
        removed.append(f"#r{index}")
    update = "SET " + ", ".join(assignments) + (" REMOVE " + ", ".join(removed) if removed else "")
    if expected_revision is None:
        condition = "attribute_not_exists(fixture_id)"
    else:
        condition = "#revision = :expected_revision"
        names["#revision"] = "revision"
        values[":expected_revision"] = {"N": str(expected_revision)}
    return {
        "key": {"fixture_id": {"S": fixture_id}},
        "update": update,
        "condition": condition,
        "names": names,
        "values": values,
    }


def fixture_after(stored: dict[str, Any], sets: dict[str, Any], removes: list[str] | tuple[str, ...]) -> FixtureState:
    """The fixture as the pricing inputs once the update is applied to ``stored`` (the item as plain values)."""
    kept = {name: value for name, value in stored.items() if name not in removes}
    return FixtureState.model_validate(kept | sets)


def publication(
    message: PriceMessage, *, event_type: str, execution_id: str, source_event_body: str | None = None
) -> dict[str, Any]:
    """The book's Prices item (its ``book`` attribute is the JSON string that is published, byte for byte: the
    workflow publishes ``book_item.book.S``, so the book is in the state data once), the SNS message attributes
    (subscribers filter on them without reading the book: settlement on ``result``) and the publication claim."""
    book = message.model_dump_json()
    revision = {"N": str(message.revision)}
    item: dict[str, Any] = {
        "fixture_id": {"S": message.fixture_id},
        "revision": revision,
        "sequence": {"N": str(message.sequence)},
        "generated_at": {"S": message.model_dump(mode="json")["generated_at"]},
        "fixture_status": {"S": message.status},
        "book": {"S": book},
    }
    if source_event_body is not None:
        # The event as received: a later event that conflicts with it is quarantined with both versions.
        item["source_event_body"] = {"S": source_event_body}
    attributes = {
        "fixture_id": message.fixture_id,
        "sport": message.sport,
        "event_type": event_type,
        "fixture_status": message.status,
    }
    if message.result is not None:
        attributes["result"] = message.result.kind
    key = {"fixture_id": {"S": message.fixture_id}}
    execution = {"S": execution_id}
    return {
        "book_item": item,
        "message_attributes": {
            name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
        },
        "claim": {
            "key": key,
            "values": {":revision": revision, ":sequence": {"N": str(message.sequence)}, ":execution": execution},
            # ReleaseClaim: a claim whose book could not be published goes back to the revision before it.
            "release_values": {
                ":released": {"N": str(message.revision - 1)},
                ":revision": revision,
                ":execution": execution,
            },
        },
    }
