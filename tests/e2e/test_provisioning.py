"""The running engine provisioned the whole synthesized app and runs its definitions as deployed."""

from __future__ import annotations

import json

import pytest

from local_engine.engine import LocalEngine
from local_engine.provisioner import NOT_NEEDED_LOCALLY
from tests.synth import SynthesizedApp

pytestmark = pytest.mark.slow


def test_every_resource_is_provisioned_or_excused_with_a_reason(engine: LocalEngine, dev_app: SynthesizedApp) -> None:
    # Given every resource of every synthesized template
    declared = {
        (stack, logical_id): resource["Type"]
        for stack, template in dev_app.templates.items()
        for logical_id, resource in template["Resources"].items()
    }

    # Then the engine provisioned each one, or skipped it because its type is excused with a reason
    assert engine.app is not None
    provisioned = {(r.stack, r.logical_id) for r in engine.app.resources}
    skipped = {(stack, logical_id): resource_type for stack, logical_id, resource_type in engine.app.skipped}
    assert provisioned | set(skipped) == set(declared)
    assert all(resource_type in NOT_NEEDED_LOCALLY for resource_type in skipped.values())
    assert all(len(reason) > 20 for reason in NOT_NEEDED_LOCALLY.values())
    # ...and the parts the feed runs on are real moto resources
    provisioned_types = {r.type for r in engine.app.resources}
    assert {
        "AWS::DynamoDB::Table",
        "AWS::SQS::Queue",
        "AWS::SNS::Topic",
        "AWS::SNS::Subscription",
        "AWS::Lambda::Function",
        "AWS::StepFunctions::StateMachine",
    } <= provisioned_types


def test_state_machines_run_the_deployed_definition(engine: LocalEngine, dev_app: SynthesizedApp) -> None:
    # Given the definition in the template, with its substitutions resolved by the engine
    (machine,) = [
        r
        for t in dev_app.templates.values()
        for logical_id, r in t["Resources"].items()
        if r["Type"] == "AWS::StepFunctions::StateMachine" and logical_id.startswith("FeedWorkflow")
    ]
    deployed = json.loads(
        engine.client("stepfunctions").describe_state_machine(stateMachineArn=engine.feed_state_machine_arn)[
            "definition"
        ]
    )

    # Then the engine runs that definition, state for state, with real resource names in place of placeholders
    template_states = json.loads(machine["Properties"]["DefinitionString"])["States"]
    assert list(deployed["States"]) == list(template_states)
    text = json.dumps(deployed)
    assert "${" not in text and engine.table_name("Fixtures") in text and engine.queue_url("QuarantinedEvents") in text
