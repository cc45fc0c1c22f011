"""Resolving CloudFormation intrinsics and ordering resources, as the local engine does before provisioning."""

from __future__ import annotations

import pytest

from local_engine.cloud_assembly import CloudAssemblyError, Resolver, resource_order


def _resolver() -> Resolver:
    return Resolver(
        stack_name="S",
        region="eu-west-1",
        account="123456789012",
        refs={"Queue": "https://sqs/q", "Table": "t-1"},
        attributes={"Queue": {"Arn": "arn:aws:sqs:eu-west-1:123456789012:q"}},
        exports={"Other:TopicArn": "arn:aws:sns:eu-west-1:123456789012:topic"},
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"Ref": "Table"}, "t-1"),
        ({"Ref": "AWS::Region"}, "eu-west-1"),
        ({"Fn::GetAtt": ["Queue", "Arn"]}, "arn:aws:sqs:eu-west-1:123456789012:q"),
        ({"Fn::GetAtt": "Queue.Arn"}, "arn:aws:sqs:eu-west-1:123456789012:q"),
        ({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":x"]]}, "arn:aws:x"),
        (
            {"Fn::Sub": "${AWS::AccountId}/${Table}/${Queue.Arn}"},
            "123456789012/t-1/arn:aws:sqs:eu-west-1:123456789012:q",
        ),
        ({"Fn::Sub": ["${A}-${Table}", {"A": "a"}]}, "a-t-1"),
        ({"Fn::Select": [1, {"Fn::Split": [":", "a:b:c"]}]}, "b"),
        ({"Fn::ImportValue": "Other:TopicArn"}, "arn:aws:sns:eu-west-1:123456789012:topic"),
        ({"List": [{"Ref": "AWS::NoValue"}, {"Ref": "Table"}]}, {"List": ["t-1"]}),
    ],
)
def test_intrinsics_resolve_as_cloudformation_would(value: object, expected: object) -> None:
    assert _resolver().resolve(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"Ref": "Missing"}, "Ref to Missing"),
        ({"Fn::GetAtt": ["Queue", "QueueName"]}, "Queue.QueueName"),
        ({"Fn::ImportValue": "Nobody:Exports"}, "Nobody:Exports"),
        ({"Ref": "AWS::NotificationARNs"}, "AWS::NotificationARNs"),
    ],
)
def test_what_cannot_be_resolved_is_named(value: object, message: str) -> None:
    with pytest.raises(CloudAssemblyError, match=message):
        _resolver().resolve(value)


def test_resources_come_after_what_they_reference() -> None:
    # Given resources that reference each other through Ref, GetAtt, Sub and DependsOn
    resources = {
        "Machine": {"Properties": {"Definition": {"Fn::Sub": "${Table}"}, "Role": {"Fn::GetAtt": ["Role", "Arn"]}}},
        "Table": {"Properties": {}},
        "Role": {"Properties": {}, "DependsOn": "Table"},
    }

    # When ordered
    order = resource_order(resources)

    # Then each comes after everything it needs
    assert order.index("Table") < order.index("Role") < order.index("Machine")


def test_a_reference_cycle_is_an_error() -> None:
    resources = {"A": {"Properties": {"X": {"Ref": "B"}}}, "B": {"Properties": {"Y": {"Ref": "A"}}}}
    with pytest.raises(CloudAssemblyError, match="cycle"):
        resource_order(resources)
