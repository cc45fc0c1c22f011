"""`make iam-check`: every grant listed with where it is used, and a workflow grant no state uses fails."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.synth import SynthesizedApp
from tools.iam_check import check, main


def test_every_task_state_is_attributed_to_a_grant_of_its_role(dev_app: SynthesizedApp) -> None:
    # Given the synthesized app's workflows and their Task states
    task_states = {
        name
        for machine in dev_app.resources("AWS::StepFunctions::StateMachine").values()
        for name, state in json.loads(machine["Properties"]["DefinitionString"])["States"].items()
        if state["Type"] == "Task"
    }

    # When the grants are listed
    grants = check(dev_app.outdir)

    # Then every Task state is named as the use of at least one grant, and each line names role, action, resource
    used_by = " ".join(grant.where for grant in grants if grant.where.startswith("states "))
    assert {state for state in task_states if state not in used_by} == set()
    update = [g for g in grants if g.role == "FeedWorkflowFeedEventRole" and g.action == "dynamodb:UpdateItem"]
    assert [(g.resource, g.where) for g in update] == [
        ("TradingTablesFixtures.Arn", "states WriteFixture, ClaimPublication, ReleaseClaim")
    ]


def test_a_workflow_grant_no_state_uses_fails_the_check(dev_app: SynthesizedApp, tmp_path: Path) -> None:
    # Given a copy of the app whose feed workflow role was also granted dynamodb:DeleteItem on the fixtures table
    assembly = tmp_path / "cdk.out"
    assembly.mkdir()
    shutil.copy(dev_app.outdir / "manifest.json", assembly / "manifest.json")
    for template_file in dev_app.outdir.glob("*.template.json"):
        template = json.loads(template_file.read_text())
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] == "AWS::IAM::Policy" and logical_id.startswith(
                "FeedWorkflowFeedEventRoleDefaultPolicy"
            ):
                statements = resource["Properties"]["PolicyDocument"]["Statement"]
                (update,) = [s for s in statements if s["Action"] == "dynamodb:UpdateItem"]
                statements.append(dict(update, Action="dynamodb:DeleteItem"))
        (assembly / template_file.name).write_text(json.dumps(template))

    # When the check runs on it
    grants = check(assembly)
    exit_code = main([str(assembly)])

    # Then that grant is reported unused and the check fails
    (delete,) = [g for g in grants if g.action == "dynamodb:DeleteItem"]
    assert delete.unused and delete.role == "FeedWorkflowFeedEventRole"
    assert exit_code == 1


def test_the_app_grants_its_workflows_nothing_they_do_not_use(dev_app: SynthesizedApp) -> None:
    # Given the synthesized app
    # When its grants are checked
    grants = check(dev_app.outdir)

    # Then no workflow role holds a grant that none of its states uses (make test fails on a new one)
    assert [(g.role, g.action) for g in grants if g.unused] == []
