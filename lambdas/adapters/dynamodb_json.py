"""DynamoDB's typed JSON to plain Python values, without importing boto3 on the pricing hot path.

boto3's TypeDeserializer would cost the pricing Lambda ~180 ms of cold-start imports for what is a
dozen lines here; only the types the workflow writes (S, N, BOOL, NULL, M, L, and the number set NS of counted
sequences) are needed.
"""

from __future__ import annotations

from typing import Any


class UnsupportedDynamoDbType(ValueError):
    pass


def from_dynamodb_item(item: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Convert ``{"name": {"S": "x"}, "n": {"N": "1.5"}}`` to ``{"name": "x", "n": 1.5}``.

    Numbers without a fraction or exponent become ``int``, others ``float``; sets become frozensets.
    """
    return {name: _value(name, typed) for name, typed in item.items()}


def _value(name: str, typed: dict[str, Any]) -> Any:
    if len(typed) != 1:
        raise UnsupportedDynamoDbType(f"{name}: expected one type key, got {sorted(typed)}")
    ((kind, raw),) = typed.items()
    if kind == "S":
        return raw
    if kind == "N":
        return _number(raw)
    if kind == "NS":
        return frozenset(_number(item) for item in raw)
    if kind == "SS":
        return frozenset(raw)
    if kind == "BOOL":
        return bool(raw)
    if kind == "NULL":
        return None
    if kind == "M":
        return {key: _value(f"{name}.{key}", value) for key, value in raw.items()}
    if kind == "L":
        return [_value(f"{name}[{index}]", value) for index, value in enumerate(raw)]
    raise UnsupportedDynamoDbType(f"{name}: DynamoDB type {kind} is not used by the workflow")


def _number(raw: str) -> int | float:
    return int(raw) if raw.lstrip("-").isdigit() else float(raw)


def to_dynamodb_value(value: Any) -> dict[str, Any]:
    """The inverse for what the workflows store: strings, numbers, booleans, lists, maps and string sets."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int | float):
        return {"N": repr(value)}
    if isinstance(value, list | tuple):
        return {"L": [to_dynamodb_value(item) for item in value]}
    if isinstance(value, dict):
        return {"M": {key: to_dynamodb_value(item) for key, item in value.items()}}
    if isinstance(value, set | frozenset) and value and all(isinstance(item, str) for item in value):
        return {"SS": sorted(value)}
    if value is None:
        return {"NULL": True}
    raise UnsupportedDynamoDbType(f"{type(value).__name__} is not stored by the workflows")
