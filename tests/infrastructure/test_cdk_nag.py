"""cdk-nag's AwsSolutions and Serverless packs: zero unacknowledged findings, each acknowledgement justified."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_sqs as sqs
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from tests.synth import SynthesizedApp


def _violations(outdir: Path) -> list[dict[str, Any]]:
    report_file = outdir / "validation-report.json"
    if not report_file.exists():
        return []
    report = json.loads(report_file.read_text())
    return [v for plugin in report.get("pluginReports", []) for v in plugin.get("violations", [])]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_no_unacknowledged_findings(stage: str, dev_app: SynthesizedApp, prod_app: SynthesizedApp) -> None:
    # Given the app synthesized with both packs as validation plugins (a finding would have failed synth)
    app = dev_app if stage == "dev" else prod_app

    # Then the validation report lists no violation
    assert _violations(app.outdir) == []


def test_every_acknowledgement_names_one_rule_and_gives_a_reason(dev_app: SynthesizedApp) -> None:
    # Given every acknowledgement recorded in the construct tree
    acknowledgements = [
        (node.node.path, rule, reason)
        for stack in dev_app.engine.stacks
        for node in stack.node.find_all()
        for entry in node.node.metadata
        if entry.type == "aws:cdk:acknowledged-rules"
        for rule, reason in entry.data.items()
    ]

    # Then each is on a construct below a stack (never the app or a stack), names one rule of a pack
    # that runs here, and explains itself
    assert len(acknowledgements) >= 10
    for path, rule, reason in acknowledgements:
        assert path.count("/") >= 2, f"acknowledgement too broad at {path}"
        pack, rule_id = rule.split("::", 1)
        assert pack in {"AwsSolutions", "Serverless", "TradingEngine"} and rule_id.startswith(f"{pack}-"), rule
        assert len(reason) >= 40, f"{path}: reason too thin: {reason!r}"


def test_nag_fails_synth_on_an_unacknowledged_finding(tmp_path: Path) -> None:
    # Given a stack with a queue that breaks AwsSolutions-SQS3/SQS4 (no DLQ, no TLS enforcement)
    app = App(outdir=str(tmp_path), analytics_reporting=False)
    stack = Stack(app, "Bad")
    sqs.Queue(stack, "Plain")
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))

    # When it is synthesized
    with pytest.raises(Exception) as failure:  # noqa: B017 - jsii surfaces the validation failure as a RuntimeError
        app.synth()

    # Then synth fails, and the report names the rule and the resource
    assert "Validation failed" in str(failure.value) or _violations(tmp_path)
    rules = {v["ruleName"] for v in _violations(tmp_path)}
    assert any("SQS3" in rule for rule in rules), rules
