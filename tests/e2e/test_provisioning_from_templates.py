"""Provisioning from the cloud assembly alone: nothing about the app is kept by hand in the engine.

These tests start their own moto, so they live apart from the modules that share a running engine.
"""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_sqs as sqs
from moto import mock_aws

from local_engine.cloud_assembly import read_stacks
from local_engine.provisioner import ProvisionedApp, UnsupportedResourceType, provision
from stacks.app_builder import STAGE_CONTEXT_KEY, build_trading_engine
from tests.synth import cdk_json_context

pytestmark = pytest.mark.slow


def _provision(assembly: Path) -> tuple[ProvisionedApp, list[str]]:
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="eu-west-1")
    with mock_aws():
        provisioned = provision(
            read_stacks(assembly), clients=session.client, region="eu-west-1", account="123456789012"
        )
        return provisioned, session.client("sqs").list_queues().get("QueueUrls", [])


def test_a_resource_added_to_a_stack_appears_locally(tmp_path: Path) -> None:
    # Given the app with one more queue in the fan-out stack than the real one has
    app = App(context={**cdk_json_context(), STAGE_CONTEXT_KEY: "dev"}, outdir=str(tmp_path), analytics_reporting=False)
    trading = build_trading_engine(app, nag=False)
    sqs.Queue(trading.fanout, "AuditCopy", enforce_ssl=True)
    app.synth()

    # When the engine provisions it (the engine's code knows nothing about this queue)
    with mock_aws():
        import boto3

        session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="eu-west-1")
        provisioned = provision(
            read_stacks(tmp_path), clients=session.client, region="eu-west-1", account="123456789012"
        )
        queue_urls = session.client("sqs").list_queues()["QueueUrls"]

    # Then the queue exists in moto
    queue = provisioned.one("AWS::SQS::Queue", "AuditCopy")
    assert queue.ref in queue_urls


def test_a_type_the_engine_cannot_provision_is_named(tmp_path: Path) -> None:
    # Given a stack with a resource type the engine has no creator for (an Elastic IP)
    app = App(outdir=str(tmp_path), analytics_reporting=False)
    stack = Stack(app, "WithAnInstance")
    ec2.CfnEIP(stack, "Address")
    app.synth()

    # When the engine provisions it, it stops with the stack, the logical id and the type
    with pytest.raises(UnsupportedResourceType, match=r"WithAnInstance/Address: .*AWS::EC2::EIP"):
        _provision(tmp_path)


def test_a_missing_cloud_assembly_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="make synth"):
        read_stacks(tmp_path)
