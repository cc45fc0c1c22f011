"""The boto3-free conversion of DynamoDB typed JSON used on the pricing hot path."""

from __future__ import annotations

import pytest

from lambdas.adapters.dynamodb_json import UnsupportedDynamoDbType, from_dynamodb_item


def test_converts_every_type_the_workflow_writes() -> None:
    # Given an item with strings, integers, decimals, booleans, nulls, maps and lists
    item = {
        "s": {"S": "x"},
        "i": {"N": "17"},
        "neg": {"N": "-3"},
        "f": {"N": "1.62"},
        "e": {"N": "1E+2"},
        "b": {"BOOL": True},
        "z": {"NULL": True},
        "m": {"M": {"k": {"N": "2"}}},
        "l": {"L": [{"S": "a"}, {"N": "0.5"}]},
        "ns": {"NS": ["4", "11"]},
        "ss": {"SS": ["x", "y"]},
    }

    # When converted
    plain = from_dynamodb_item(item)

    # Then numbers keep their kind and nesting is preserved
    assert plain == {
        "s": "x",
        "i": 17,
        "neg": -3,
        "f": 1.62,
        "e": 100.0,
        "b": True,
        "z": None,
        "m": {"k": 2},
        "l": ["a", 0.5],
        "ns": frozenset({4, 11}),
        "ss": frozenset({"x", "y"}),
    }
    assert isinstance(plain["i"], int) and isinstance(plain["f"], float)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"blob": {"B": "AAE="}}, "blob: DynamoDB type B"),
        ({"m": {"M": {"inner": {"BS": ["AAE="]}}}}, "m.inner: DynamoDB type BS"),
        ({"two": {"S": "a", "N": "1"}}, "two: expected one type key"),
    ],
)
def test_unexpected_types_fail_naming_the_attribute(item: dict, message: str) -> None:
    # Then an attribute the workflow never writes is an error naming where it is
    with pytest.raises(UnsupportedDynamoDbType, match=message):
        from_dynamodb_item(item)
