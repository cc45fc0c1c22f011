"""The cost estimate's arithmetic on a small case computed by hand (no synth: the facts are given)."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from typing import Any

import pytest

from tools.cost import UNIT_PRICES_FILE, AppFacts, PriceBook, WorkflowPath, estimate, published_path


def _prices(**overrides: float) -> PriceBook:
    """Round unit prices (per million unless a GB price) so the expected figures can be worked out by hand."""
    data = json.loads(UNIT_PRICES_FILE.read_text())
    per_million = {
        "step_functions_express_request": 1.0,
        "lambda_arm_request": 0.2,
        "dynamodb_on_demand_write_request_unit": 1.0,
        "dynamodb_on_demand_read_request_unit": 0.25,
        "sns_publish": 0.5,
        "sns_delivery_to_sqs_or_lambda": 0.0,
        "sqs_standard_request": 0.5,
        "iot_core_message": 1.0,
        "iot_core_connection_minute": 0.1,
        "xray_trace_recorded": 5.0,
        "api_gateway_rest_request": 3.0,
        "kms_request": 0.0,
    }
    for name, usd in per_million.items():
        data["prices"][name].update(usd=usd, per=1_000_000)
    data["prices"]["step_functions_express_gb_second"].update(usd=0.00002, per=1)
    data["prices"]["lambda_arm_gb_second"].update(usd=0.00001, per=1)
    data["prices"]["cloudwatch_logs_ingestion_gb"].update(usd=0.5, per=1)
    assumptions: dict[str, Any] = {
        "price_message_bytes": 10_000,
        "feed_event_bytes": 100,
        "fixture_item_bytes": 900,
        "lambda_handler_ms": 9.5,
        "task_latency_ms": {"dynamodb": 10, "sns": 20, "sqs": 15, "lambda_invoke_overhead": 10},
        "express_memory_mb": 64,
        "log_event_overhead_bytes": 100,
        "lambda_log_bytes_per_invocation": 1000,
        "lambda_xray_sampling_rate": 0.1,
        "kms_requests_per_event": 0,
        **overrides,
    }
    for name, value in assumptions.items():
        data["assumptions"][name]["value"] = value
    return PriceBook(data)


FACTS = AppFacts(
    path=WorkflowPath(
        states=("Apply", "Price", "Store", "Claim", "Publish"),
        state_actions=(
            "dynamodb:updateItem",
            "lambda:invoke",
            "dynamodb:putItem",
            "dynamodb:updateItem",
            "sns:publish",
        ),
        tasks=Counter({"dynamodb:updateItem": 2, "lambda:invoke": 1, "dynamodb:putItem": 1, "sns:publish": 1}),
        invoked_functions=(("Feed", "Price"),),
        published_topics=(("Fanout", "Topic"),),
    ),
    invoked_memory_mb=(1024,),
    queue_subscriptions=2,
    lambda_subscriber_memory_mb=(256,),
    iot_publishing_subscribers=1,
    workflow_xray_sampling_rate=0.5,
    ingest_api_requests=1,
)


def _line(lines: list[Any], service_start: str) -> float:
    (line,) = [line for line in lines if line.service.startswith(service_start)]
    return round(line.usd_per_million_events, 6)


def test_engine_lines_match_the_hand_computed_case() -> None:
    # Given the small case and round prices
    # When a million events are estimated with 10 browser subscribers
    result = estimate(FACTS, _prices(), subscribers=10, events_per_second=100)

    # Then each line is what the arithmetic by hand gives
    engine = result.engine
    assert _line(engine, "Step Functions Express requests") == 1.0
    # 3 DynamoDB x 10 + SNS 20 + Lambda (10 + 9.5) = 69.5 ms -> 0.1 s billed x 64 MB (0.0625 GB) x $0.00002
    assert _line(engine, "Step Functions Express duration") == round(0.1 * 0.0625 * 0.00002 * 1e6, 6)
    # 9.5 ms -> 10 ms billed x 1 GB = 0.01 GB-s per event
    assert _line(engine, "Lambda duration (pricing)") == round(0.01 * 0.00001 * 1e6, 6)
    # 2 updates of a 900-byte item (1 WRU each) + the 10,000-byte book (10 WRU)
    assert _line(engine, "DynamoDB writes") == 12.0
    # 2 queues x (send, receive, delete)
    assert _line(engine, "SQS on-prem queues") == 3.0
    # (10,000 + topic) bytes = 2 IoT messages of 5 KB, metered as PUBLISH + RETAINED + once per subscriber
    assert _line(engine, "IoT Core messages") == 2 * (2 + 10)
    # 10 subscribers connected while a million events arrive at 100/s: 10 x 10,000 s / 60 minutes at $0.1 per 1M
    assert _line(engine, "IoT Core connections") == round(10 * 10_000 / 60 * 0.1 / 1e6, 6)
    # half the executions traced (the template's rule) + 10 % of the bridge's invocations
    assert _line(engine, "X-Ray traces") == round(0.6 * 5.0, 6)


def test_workflow_logs_carry_the_book_after_the_pricing_task() -> None:
    # Given the small case: the input (event + fixture) is 1,000 bytes, the book 10,000, each log event 100 more
    # When it is estimated
    result = estimate(FACTS, _prices(), subscribers=0, events_per_second=100)

    # Then: started + succeeded (2 x 1,100), Apply (2 x 1,100), Price (1,100 in, 11,100 out), three states after
    # it (6 x 11,100), and two Lambda invocations' logs (2 x 1,000)
    workflow = 2 * 1100 + 2 * 1100 + 1100 + 11100 + 6 * 11100
    expected_bytes = workflow + 2 * 1000
    assert _line(result.engine, "CloudWatch Logs") == round(expected_bytes * 1e6 / 1024**3 * 0.5, 6)


def test_workflow_logs_follow_the_logging_configuration() -> None:
    # Given the same app logging at ERROR, and at ALL without execution data
    errors_only = dataclasses.replace(FACTS, workflow_log_level="ERROR")
    without_data = dataclasses.replace(FACTS, workflow_logs_execution_data=False)

    # When estimated
    prices = _prices()
    errors_line = _line(estimate(errors_only, prices, subscribers=0, events_per_second=100).engine, "CloudWatch Logs")
    data_line = _line(estimate(without_data, prices, subscribers=0, events_per_second=100).engine, "CloudWatch Logs")

    # Then only the two Lambda invocations log at ERROR (a priced event has no failure), and without execution
    # data each of the 12 workflow log events is its 100-byte envelope
    assert errors_line == round(2 * 1000 * 1e6 / 1024**3 * 0.5, 6)
    assert data_line == round((12 * 100 + 2 * 1000) * 1e6 / 1024**3 * 0.5, 6)


def test_baseline_bills_its_lambdas_while_they_wait() -> None:
    # Given the baseline chain from the data file (validate, apply, price, store-and-publish)
    # When it is estimated
    result = estimate(FACTS, _prices(), subscribers=0, events_per_second=100)

    # Then its Lambdas are billed for work plus waits: 256 MB x (2+20) + 256 x (2+10+20) + 1024 x (9.5->10 +20)
    # + 256 x (2+10+10+20) ms, and three SNS hops join them
    gb_seconds = (0.25 * 22 + 0.25 * 32 + 1.0 * 30 + 0.25 * 42) / 1000
    assert _line(result.baseline, "Lambda duration (chain)") == round(gb_seconds * 0.00001 * 1e6, 6)
    assert _line(result.baseline, "SNS publishes between") == 1.5
    assert not any(line.service.startswith("Step Functions") for line in result.baseline)


def test_more_subscribers_cost_more_iot_messages_only() -> None:
    # Given the same app with 0 and 1,000 browser subscribers
    few = estimate(FACTS, _prices(), subscribers=0, events_per_second=100)
    many = estimate(FACTS, _prices(), subscribers=1000, events_per_second=100)

    # Then only the IoT lines differ, and equally for the engine and the baseline
    changed = {
        a.service.split(" (")[0]
        for a, b in zip(few.engine, many.engine, strict=True)
        if a.usd_per_million_events != b.usd_per_million_events
    }
    assert changed == {"IoT Core messages", "IoT Core connections"}
    assert many.total(many.engine) - few.total(few.engine) == pytest.approx(
        many.total(many.baseline) - few.total(few.baseline)
    )


def test_path_follows_choices_to_the_publish_and_on_to_the_end() -> None:
    # Given a definition where the publish is reached through a Choice, and a Catch leads elsewhere
    definition = {
        "StartAt": "Route",
        "States": {
            "Route": {"Type": "Choice", "Choices": [{"Next": "Reject"}], "Default": "Apply"},
            "Reject": {"Type": "Fail"},
            "Apply": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:updateItem",
                "Next": "Publish",
                "Catch": [{"Next": "Quarantine"}],
            },
            "Quarantine": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "End": True},
            "Publish": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "Next": "Done"},
            "Done": {"Type": "Succeed"},
        },
    }

    # Then the priced path skips the rejection and the quarantine
    assert published_path(definition) == ("Route", "Apply", "Publish", "Done")


def test_a_definition_that_never_publishes_is_named() -> None:
    with pytest.raises(ValueError, match="no state publishes to SNS"):
        published_path({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}})
