"""Generate the feed-event JSON schema (draft 4, the version API Gateway validates) from the models.

Run ``python -m lambdas.models.schema`` to rewrite docs/schemas/feed-event.schema.json; a test fails
when the committed file differs from what the models generate.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from lambdas.models.feed_events import FeedEvent

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "schemas" / "feed-event.schema.json"

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


def _envelope(branches: list[dict[str, Any]]) -> dict[str, Any]:
    """The fields every event type requires, with their constraints, and ``type`` as one of the type names."""
    required = [name for name in branches[0]["required"] if all(name in branch["required"] for branch in branches)]
    properties = {name: branches[0]["properties"][name] for name in required}
    for name in required:
        if name != "type" and any(branch["properties"][name] != properties[name] for branch in branches):
            raise ValueError(f"envelope field {name!r} differs between event types")
    properties["type"] = {
        "type": "string",
        "enum": [value for branch in branches for value in branch["properties"]["type"]["enum"]],
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
        elif key == "format" and value == "date-time":
            # API Gateway's validator ignores formats; a pattern enforces RFC 3339 with a time zone.
            converted["pattern"] = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$"
        else:
            converted[key] = _to_draft4(value, definitions)
    if converted.get("type") == "object" and "properties" in converted:
        converted.setdefault("additionalProperties", False)
    return converted


def main() -> int:
    SCHEMA_FILE.parent.mkdir(parents=True, exist_ok=True)
    SCHEMA_FILE.write_text(json.dumps(feed_event_schema(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {SCHEMA_FILE.relative_to(Path.cwd()) if SCHEMA_FILE.is_relative_to(Path.cwd()) else SCHEMA_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
