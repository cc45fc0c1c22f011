"""Least privilege, proved: remove one grant a path needs from a copy of cdk.out and that path fails as in AWS.

The code is untouched; only the synthesized templates change. Each case runs the engine once on its own copy
with a couple of events, and reads the failure where an operator would: the quarantine queue (the workflow's
Catch) or the bridge's failure destination (Lambda's on-failure record).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from local_engine.engine import LocalEngine
from local_engine.sample_feed import sample_feed
from local_engine.session import quiet_libraries
from tests.synth import SynthesizedApp

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
Template = dict[str, Any]


def copy_of_assembly(source: Path, target: Path) -> Path:
    """The manifest and templates of a cloud assembly: all the local engine reads."""
    target.mkdir()
    shutil.copy(source / "manifest.json", target / "manifest.json")
    for template in source.glob("*.template.json"):
        shutil.copy(template, target / template.name)
    return target


def edit_policy(assembly: Path, policy_prefix: str, edit: Callable[[list[dict[str, Any]]], None]) -> None:
    """Apply ``edit`` to the statements of the one AWS::IAM::Policy whose logical id starts with the prefix."""
    found = []
    for path in assembly.glob("*.template.json"):
        template: Template = json.loads(path.read_text())
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] == "AWS::IAM::Policy" and logical_id.startswith(policy_prefix):
                edit(resource["Properties"]["PolicyDocument"]["Statement"])
                path.write_text(json.dumps(template))
                found.append(logical_id)
    assert len(found) == 1, f"{policy_prefix}: {found}"


def without_statement(action: str) -> Callable[[list[dict[str, Any]]], None]:
    def edit(statements: list[dict[str, Any]]) -> None:
        kept = [s for s in statements if s["Action"] != action]
        assert len(kept) == len(statements) - 1, f"no statement of exactly {action}"
        statements[:] = kept

    return edit


def without_resource(action: str, resource_part: str) -> Callable[[list[dict[str, Any]]], None]:
    """Narrow a statement: drop the one resource whose template text contains ``resource_part``."""

    def edit(statements: list[dict[str, Any]]) -> None:
        (statement,) = [s for s in statements if s["Action"] == action]
        kept = [r for r in statement["Resource"] if resource_part not in json.dumps(r)]
        assert len(kept) == len(statement["Resource"]) - 1
        statement["Resource"] = kept

    return edit


def first_event() -> dict[str, Any]:
    """A seeded match's first event: it reaches every state of the workflow (later ones need it applied)."""
    return next(e for e in sample_feed(fixtures=1, seed=7) if isinstance(e, dict))


def run_feed(assembly: Path) -> LocalEngine:
    quiet_libraries()
    engine = LocalEngine(assembly, mqtt=False, concurrency=1)
    engine.start()
    try:
        engine.submit(first_event())
        engine.drain(timeout=120)
    except BaseException:
        engine.stop()
        raise
    return engine


WORKFLOW_CASES = {
    # policy, edit, the task error Step Functions reports, the action, the role
    "feed workflow role without dynamodb:UpdateItem": (
        "FeedWorkflowFeedEventRoleDefaultPolicy",
        without_statement("dynamodb:UpdateItem"),
        "DynamoDB.AccessDeniedException",
        "dynamodb:UpdateItem",
        "FeedWorkflowFeedEventRole",
    ),
    "feed workflow role without sns:Publish": (
        "FeedWorkflowFeedEventRoleDefaultPolicy",
        without_statement("sns:Publish"),
        "SNS.AuthorizationErrorException",
        "sns:Publish",
        "FeedWorkflowFeedEventRole",
    ),
    "ApplyFeedEvent role without dynamodb:GetItem on the fixtures table": (
        "FeedWorkflowApplyFeedEventRoleDefaultPolicy",
        without_resource("dynamodb:GetItem", "Fixtures"),
        None,  # the Lambda's own error: its handler raised botocore's error
        "dynamodb:GetItem",
        "FeedWorkflowApplyFeedEventRole",
    ),
}


@pytest.mark.parametrize("case", list(WORKFLOW_CASES))
def test_a_workflow_path_fails_without_its_grant(case: str, dev_app: SynthesizedApp, tmp_path: Path) -> None:
    # Given a copy of the synthesized app with one grant the feed workflow's path needs removed
    policy, edit, task_error, action, role = WORKFLOW_CASES[case]
    assembly = copy_of_assembly(dev_app.outdir, tmp_path / "cdk.out")
    edit_policy(assembly, policy, edit)

    # When a match's first event runs through the engine on that copy
    engine = run_feed(assembly)
    try:
        quarantined = [m["Body"] for m in engine.receive_all("QuarantinedEvents")]
        role_arn_part = f":assumed-role/TradingEngine-dev-Feed-{role}"
        denials = list(engine.iam.denials) if engine.iam else []
    finally:
        engine.stop()

    # Then it is not applied: the workflow's Catch quarantines it with AWS's access-denied message, naming the
    # role and the action
    assert [o.kind for o in engine.outcomes] == ["quarantined"]
    (body,) = quarantined
    if task_error is not None:
        assert body["error"] == task_error
    assert role_arn_part in body["cause"]
    assert f"is not authorized to perform: {action} on resource: arn:aws:" in body["cause"]
    assert {denial.action for denial in denials} == {action}


def test_the_iot_bridge_fails_without_its_publish_grant(dev_app: SynthesizedApp, tmp_path: Path) -> None:
    # Given a copy of the app whose IoT bridge role lost its iot:Publish statement
    assembly = copy_of_assembly(dev_app.outdir, tmp_path / "cdk.out")
    edit_policy(assembly, "IotBridgePublishPricesToIotRoleDefaultPolicy", without_statement("iot:Publish"))

    # When a match's first event is priced and fanned out
    engine = run_feed(assembly)
    try:
        failed = [m["Body"] for m in engine.receive_all("IotBridgeFailedPublications")]
    finally:
        engine.stop()

    # Then the workflow still applies it, but the bridge's delivery ends on its failure destination after
    # Lambda's retries, refused as AWS IoT refuses it (ForbiddenException) for that role and action
    assert [o.kind for o in engine.outcomes] == ["applied"]
    (record,) = failed
    message = record["responsePayload"]["errorMessage"]
    assert "ForbiddenException" in message
    assert ":assumed-role/TradingEngine-dev-Fanout-IotBridgePublishPricesToIotRole" in message
    assert "is not authorized to perform: iot:Publish on resource: arn:aws:iot:eu-west-1:" in message


def test_the_demo_on_a_copy_without_a_grant_reports_access_denied(dev_app: SynthesizedApp, tmp_path: Path) -> None:
    # Given a copy of the app whose feed workflow role cannot write the fixtures table
    assembly = copy_of_assembly(dev_app.outdir, tmp_path / "cdk.out")
    edit_policy(assembly, "FeedWorkflowFeedEventRoleDefaultPolicy", without_statement("dynamodb:UpdateItem"))

    # When the demo plays one match on that copy, as a user runs it
    result = subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "local_engine.demo", "--assembly", str(assembly), "--fixtures", "1", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )

    # Then nothing is applied: every event that reached the write is quarantined as AccessDenied
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["applied"] == 0
    assert report["quarantine_reasons"]["DynamoDB.AccessDeniedException"] > 0
    assert report["events"] == report["skipped"] + report["quarantined"]
