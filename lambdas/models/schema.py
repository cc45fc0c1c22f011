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
    unknown type or another sport is reported on its own, naming the field. Each type's branch stays as strict
    as before (its required fields, no additional properties).
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
    """The trader-command schema in draft 4, built like the feed event's: ``command`` checked at the top level."""
    generated = TypeAdapter(TraderCommand).json_schema()
    definitions = generated.pop("$defs", {})
    branches = _one_branch_per_command(_to_draft4(generated, definitions)["oneOf"])
    return {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": "TraderCommand",
        "description": "One trader command (docs/trader-api.md)",
        **_envelope(branches, discriminator="command", every_shared_field=True),
        "oneOf": branches,
    }


def _one_branch_per_command(branches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The forms of one command (set_pre_match's three) as one branch: every form's fields, none required.

    API Gateway names no field when a body matches no ``oneOf`` branch, so a set_pre_match missing a field of its
    form, or mixing two forms, would be refused without saying which field. With one branch the schema still
    bounds every field and refuses unknown ones; the workflow's pre-match Lambda, validating with the models,
    then names the missing or extra field in a 400.
    """
    merged: dict[str, dict[str, Any]] = {}
    for branch in branches:
        (command,) = branch["properties"]["command"]["enum"]
        if command not in merged:
            merged[command] = branch
            continue
        first = merged[command]
        merged[command] = {
            **first,
            "description": f"{command}, in one of its forms (docs/trader-api.md)",
            "properties": {**first["properties"], **branch["properties"]},
            "required": [name for name in first["required"] if name in branch["required"]],
        }
    return list(merged.values())


def _envelope(
    branches: list[dict[str, Any]], discriminator: str = "type", *, every_shared_field: bool = False
) -> dict[str, Any]:
    """The fields every branch requires, with their constraints, and the discriminator as one of its values.

    With ``every_shared_field``, every branch's fields are checked at the top level too (a field constrained
    differently by different branches must meet one of those constraints), so a margin out of range is reported
    as ``margin`` rather than as "matched 0 out of 5".
    """
    required = [name for name in branches[0]["required"] if all(name in branch["required"] for branch in branches)]
    properties = {name: branches[0]["properties"][name] for name in required}
    for name in required:
        if name != discriminator and any(branch["properties"][name] != properties[name] for branch in branches):
            raise ValueError(f"envelope field {name!r} differs between branches")
    if every_shared_field:
        for branch in branches:
            for name in branch["properties"]:
                if name in properties or name == discriminator:
                    continue
                declared: list[dict[str, Any]] = []
                for other in branches:
                    if name in other["properties"] and other["properties"][name] not in declared:
                        declared.append(other["properties"][name])
                # Branches that constrain the field differently: the value must satisfy one of them.
                properties[name] = declared[0] if len(declared) == 1 else {"anyOf": declared}
    properties[discriminator] = {
        "type": "string",
        "enum": [value for branch in branches for value in branch["properties"][discriminator]["enum"]],
    }
    envelope: dict[str, Any] = {"type": "object", "required": required, "properties": properties}
    if every_shared_field:
        envelope["additionalProperties"] = False  # every branch's fields are listed: an unknown one is named here
    return envelope


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
