"""Acknowledging a cdk-nag finding: always on one construct, always with the reason it is acceptable."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge ``rule`` (e.g. ``AwsSolutions-SQS3`` or ``AwsSolutions-IAM5[Resource::*]``) on ``construct`` only.

    The id is qualified with its pack (``AwsSolutions::AwsSolutions-SQS3``), the form cdk-nag reports;
    an unqualified id would be filed as a CDK annotation rule instead.
    """
    pack = rule.split("-", 1)[0]
    Validations.of(construct).acknowledge(Acknowledgment(id=f"{pack}::{rule}", reason=reason))
