"""Synthesizing the app exactly as `cdk synth` does, from cdk.json's context (shared by the infrastructure
and end-to-end tiers through the session fixtures in tests/conftest.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import App

from stacks.app_builder import STAGE_CONTEXT_KEY, TradingEngine, build_trading_engine
from stacks.constants import PROJECT_ROOT


def cdk_json_context() -> dict[str, Any]:
    return json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]


@dataclass(frozen=True)
class SynthesizedApp:
    engine: TradingEngine
    outdir: Path
    templates: dict[str, dict[str, Any]]  # by stack name

    def template(self, suffix: str) -> dict[str, Any]:
        (name,) = [name for name in self.templates if name.endswith(suffix)]
        return self.templates[name]

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """Every resource of ``resource_type`` across all stacks, by logical id."""
        return {
            logical_id: resource
            for template in self.templates.values()
            for logical_id, resource in template.get("Resources", {}).items()
            if resource["Type"] == resource_type
        }


def synthesize(outdir: Path, stage: str = "dev", *, nag: bool = True) -> SynthesizedApp:
    app = App(context={**cdk_json_context(), STAGE_CONTEXT_KEY: stage}, outdir=str(outdir), analytics_reporting=False)
    engine = build_trading_engine(app, nag=nag)
    assembly = app.synth()
    templates = {stack.stack_name: stack.template for stack in assembly.stacks}
    return SynthesizedApp(engine=engine, outdir=outdir, templates=templates)
