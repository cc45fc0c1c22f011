"""The cost estimate reads its counts from the synthesized app: change the app, the estimate changes."""

from __future__ import annotations

import copy
import json

from local_engine.cloud_assembly import StackArtifact, read_stacks
from stacks.constants import IOT_BRIDGE_MEMORY_MB, PRICING_FUNCTION_MEMORY_MB
from tests.synth import SynthesizedApp
from tools.cost import UNIT_PRICES_FILE, PriceBook, estimate, read_app_facts

PRICES = PriceBook(json.loads(UNIT_PRICES_FILE.read_text()))


def _pricing_duration(stacks: list[StackArtifact]) -> float:
    result = estimate(read_app_facts(stacks), PRICES, subscribers=100, events_per_second=50)
    (line,) = [line for line in result.engine if line.service == "Lambda duration (pricing)"]
    return line.usd_per_million_events


def test_facts_are_read_from_the_feed_workflow_and_its_topic(dev_app: SynthesizedApp) -> None:
    # Given the dev app
    # When its facts are read
    facts = read_app_facts(read_stacks(dev_app.outdir))

    # Then the priced path runs from the workflow's start to its publish, with the tasks the ASL defines
    assert facts.path.states[0] == "KeepOriginalEvent" and facts.path.states[-1] == "PricesPublished"
    assert facts.path.tasks == {
        "dynamodb:updateItem": 2,
        "lambda:invoke": 1,
        "dynamodb:putItem": 1,
        "sns:publish": 1,
    }
    # and the sizes, subscribers and sampling are the template's
    assert facts.invoked_memory_mb == (PRICING_FUNCTION_MEMORY_MB,)
    assert facts.queue_subscriptions == 2
    assert facts.lambda_subscriber_memory_mb == (IOT_BRIDGE_MEMORY_MB,)
    assert facts.iot_publishing_subscribers == 1
    assert facts.workflow_xray_sampling_rate == dev_app.engine.config.xray_sampling_rate
    assert facts.ingest_api_requests == 1
    assert (facts.workflow_log_level, facts.workflow_logs_execution_data) == ("ALL", True)


def test_doubling_the_pricing_memory_doubles_its_duration_cost(dev_app: SynthesizedApp) -> None:
    # Given the dev app and a copy whose pricing function has twice the memory
    stacks = read_stacks(dev_app.outdir)
    changed = copy.deepcopy(stacks)
    (function,) = [
        resource
        for stack in changed
        for logical_id, resource in stack.template["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function" and logical_id.startswith("FeedWorkflowApplyFeedEvent")
    ]
    function["Properties"]["MemorySize"] *= 2

    # When both are estimated
    # Then the pricing function's duration cost doubles
    assert _pricing_duration(changed) == 2 * _pricing_duration(stacks) > 0
