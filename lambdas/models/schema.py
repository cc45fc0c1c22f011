"""Generate the API request schemas (draft 4, the version API Gateway validates) from the models.

Run ``python -m lambdas.models.schema`` to rewrite docs/schemas/feed-event.schema.json and
docs/schemas/trader-command.schema.json; a test fails when a committed file differs from what the models generate.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from lambdas.models.feed_events import FeedEvent
from lambdas.models.trader_commands import TraderCommand

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "docs" / "schemas"
SCHEMA_FILE = SCHEMAS_DIR / "feed-event.schema.json"
TRADER_COMMAND_SCHEMA_FILE = SCHEMAS_DIR / "trader-command.schema.json"

# Keywords of later drafts that draft 4 (API Gateway) does not know; the validation they carry is
# kept by other keywords (const -> enum) or is documentation only.
_DOCUMENTATION_ONLY = {"title", "examples", "discriminator"}


def feed_event_schema() -> dict[str, Any]:
    """The feed-event schema in draft 4: references inlined, ``const`` as one-value ``enum``.

    The envelope (the fields every event has, with their constraints, and ``type`` as one of the type names) is
    checked at the top level, next to the ``oneOf`` of one schema per event type. API Gateway's validator reports
    only top-level keyword failures: a failed ``oneOf`` (or ``allOf``) is one message, "matched 0 out of 10",
    with the branch details nested and not shown. At the top level, a missing sequence, a bad fixture_id, an
    unknown type or another sport is reported on its own; its message names the field when the field is missing
    or unknown, and otherwise says what is wrong with the value but not where (the trader API avoids that by
    validating in its workflow: the feed's forwarder is a machine, and keeps the message with the event it
    dead-letters). Each type's branch stays as strict as before (its required fields, no additional properties).
    """
    generated = TypeAdapter(FeedEvent).json_schema()
    definitions = generated.pop("$defs", {})
    schema = _to_draft4(generated, definitions)
    return {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": "FeedEvent",
        "description": "One event of the sports data feed, as pushed by the on-prem forwarder (docs/feed-events.md)",
        **_envelope(schema["oneOf"]),
        "oneOf": schema["oneOf"],
    }


def trader_command_schema() -> dict[str, Any]:
    """The trader-command schema in draft 4: a JSON object with a command and no field that no command has.

    API Gateway's validator names a field only when it is missing (``object has missing required properties``) or
    not allowed (``object instance has properties which are not allowed``); a wrong type, a value out of range or a
    failed pattern is reported without saying where (``numeric instance is greater than the required maximum``),
    and a body that matches no ``oneOf`` branch as ``instance failed to match exactly one schema``. So the edge
    checks only what it can name, and the trader-command workflow's first task validates the rest with the models
    (``lambdas/handlers/check_trader_command.py``), answering a 400 that names the field. The fields are listed,
    unconstrained, only to refuse unknown ones by name.
    """
    generated = TypeAdapter(TraderCommand).json_schema()
    definitions = generated.pop("$defs", {})
    described: dict[str, str] = {}
    for branch in _to_draft4(generated, definitions)["oneOf"]:
        for name, field in branch["properties"].items():
            described.setdefault(name, field.get("description", "validated by the trader-command workflow"))
    return {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": "TraderCommand",
        "description": "One trader command (docs/trader-api.md); its fields are validated by the workflow",
        "type": "object",
        "required": ["command"],
        # Described, not constrained (and never empty: CloudFormation templates drop empty objects)
        "properties": {name: {"description": described[name]} for name in sorted(described)},
        "additionalProperties": False,
    }


def _envelope(branches: list[dict[str, Any]], discriminator: str = "type") -> dict[str, Any]:
    """The fields every branch requires, with their constraints, and the discriminator as one of its values."""
    required = [name for name in branches[0]["required"] if all(name in branch["required"] for branch in branches)]
    properties = {name: branches[0]["properties"][name] for name in required}
    for name in required:
        if name != discriminator and any(branch["properties"][name] != properties[name] for branch in branches):
            raise ValueError(f"envelope field {name!r} differs between branches")
    properties[discriminator] = {
        "type": "string",
        "enum": [value for branch in branches for value in branch["properties"][discriminator]["enum"]],
    }
    return {"type": "object", "required": required, "properties": properties}


def _to_draft4(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_to_draft4(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _to_draft4(definitions[node["$ref"].rsplit("/", 1)[-1]], definitions)
    converted: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DOCUMENTATION_ONLY:
            continue
        if key == "const":
            converted["enum"] = [value]
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            # Draft 6+ gives the bound itself; draft 4 gives the bound as minimum/maximum and a boolean flag.
            converted["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            converted[key] = True
        elif key == "format" and value == "date-time":
            # API Gateway's validator ignores formats; a pattern enforces RFC 3339 with a time zone.
            converted["pattern"] = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$"
        else:
            converted[key] = _to_draft4(value, definitions)
    if converted.get("type") == "object" and "properties" in converted:
        converted.setdefault("additionalProperties", False)
    return converted


def main() -> int:
    SCHEMAS_DIR.mkdir(parents=True, exist_ok=True)
    for path, schema in ((SCHEMA_FILE, feed_event_schema()), (TRADER_COMMAND_SCHEMA_FILE, trader_command_schema())):
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        print(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
