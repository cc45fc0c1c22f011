"""Synth snapshots of every stack: a change to the infrastructure shows up as a diff to read and accept.

Only asset hashes are masked (the S3 keys of code and layer assets, the trader console's bucket deployment
sources, and the Lambda version logical id that CDK derives from the code hash). State machine definitions are
shown parsed, so a changed state reads as a changed block in the diff rather than as one long escaped line.
Update on purpose with `make snapshot-update`.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from tests.synth import SynthesizedApp

_ASSET_HASH = re.compile(r"[0-9a-f]{64}")
_VERSION_LOGICAL_ID = re.compile(r"CurrentVersion[0-9A-F]{8}[0-9a-f]{32}")


def mask_asset_hashes(template: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(template, sort_keys=True)
    text = _VERSION_LOGICAL_ID.sub("CurrentVersion<code-hash>", text)
    masked = json.loads(text)
    for resource in masked.get("Resources", {}).values():
        for code_key in ("Code", "Content"):
            code = resource.get("Properties", {}).get(code_key)
            if isinstance(code, dict) and isinstance(code.get("S3Key"), str):
                code["S3Key"] = _ASSET_HASH.sub("<asset-hash>", code["S3Key"])
        if resource["Type"] == "Custom::CDKBucketDeployment":  # the console site's and config.json's assets
            properties = resource["Properties"]
            properties["SourceObjectKeys"] = [
                _ASSET_HASH.sub("<asset-hash>", key) for key in properties["SourceObjectKeys"]
            ]
        if resource["Type"] == "AWS::StepFunctions::StateMachine":
            properties = resource["Properties"]
            properties["DefinitionString"] = json.loads(properties["DefinitionString"])
    return masked


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


SNAPSHOT_STACKS = ["Operations", "Storage", "Fanout", "Feed", "RealtimeAccess", "Trader", "Console", "Monitoring"]


def test_every_stack_has_a_snapshot(dev_app: SynthesizedApp) -> None:
    assert sorted(name.split("-", 2)[2] for name in dev_app.templates) == sorted(SNAPSHOT_STACKS)


@pytest.mark.parametrize("stack_suffix", SNAPSHOT_STACKS)
def test_stack_template_matches_snapshot(
    dev_app: SynthesizedApp, snapshot_json: SnapshotAssertion, stack_suffix: str
) -> None:
    # Given the app synthesized for the dev stage
    template = dev_app.template(f"-{stack_suffix}")

    # When its asset hashes are masked
    masked = mask_asset_hashes(template)

    # Then it equals the reviewed snapshot
    assert masked == snapshot_json


def test_masking_hides_asset_hashes_only(dev_app: SynthesizedApp) -> None:
    # Given the feed stack, whose state machine definition contains no asset hash
    template = dev_app.template("-Feed")

    # When masked
    masked = mask_asset_hashes(template)

    # Then code locations are masked but the definition is all there, parsed, placeholders included
    functions = [r for r in masked["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert functions and all(f["Properties"]["Code"]["S3Key"] == "<asset-hash>.zip" for f in functions)
    (machine_id,) = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    original = template["Resources"][machine_id]["Properties"]["DefinitionString"]
    assert masked["Resources"][machine_id]["Properties"]["DefinitionString"] == json.loads(original)
    assert "${ApplyFeedEventFunctionArn}" in json.dumps(masked["Resources"][machine_id])


def test_synth_is_deterministic(dev_app: SynthesizedApp, tmp_path_factory: pytest.TempPathFactory) -> None:
    # Given a second synthesis of the same stage into another folder
    from tests.synth import synthesize

    again = synthesize(tmp_path_factory.mktemp("cdk.out.again"), "dev", nag=False)

    # Then every template is identical, byte for byte, including asset hashes
    assert again.templates == dev_app.templates
