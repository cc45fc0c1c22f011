"""Acknowledging a cdk-nag finding: always on one construct, always with the reason it is acceptable."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge ``rule`` (e.g. ``AwsSolutions-SQS3`` or ``AwsSolutions-IAM5[Resource::*]``) on ``construct`` only."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))
