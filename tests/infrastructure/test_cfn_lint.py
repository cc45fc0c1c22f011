"""cfn-lint on every synthesized template, inline state machine definitions included: zero errors."""

from __future__ import annotations

import pytest
from cfnlint.api import ManualArgs, lint

from tests.synth import SynthesizedApp

# W3005 (a DependsOn that a Ref/GetAtt already implies) is how CDK wires roles before the resources
# that use them; it is a style warning about CDK's output, not about this app.
IGNORED_CHECKS = ["W3005"]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_templates_have_no_cfn_lint_findings(stage: str, dev_app: SynthesizedApp, prod_app: SynthesizedApp) -> None:
    # Given every synthesized template of the stage
    app = dev_app if stage == "dev" else prod_app
    templates = sorted(app.outdir.glob("*.template.json"))
    assert len(templates) == 7

    # When cfn-lint checks them
    findings = [
        f"{path.name}: {match}"
        for path in templates
        for match in lint(path.read_text(), config=ManualArgs(ignore_checks=IGNORED_CHECKS))
    ]

    # Then it finds nothing, error or warning
    assert findings == []
