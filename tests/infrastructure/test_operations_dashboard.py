"""The dashboard, service alarms and saved query: every workflow, function and queue of the app is covered."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import App, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template

from stacks.constructs.operations_dashboard import OperationsDashboard, is_dead_letter_queue
from tests.synth import SynthesizedApp


def _imported_resources(app: SynthesizedApp, value: Any) -> set[str]:
    """Logical ids (in any stack) of the resources ``value`` reaches through Fn::ImportValue."""
    exports = {
        output["Export"]["Name"]: output["Value"]
        for template in app.templates.values()
        for output in template.get("Outputs", {}).values()
        if "Export" in output
    }
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "Fn::ImportValue" in node:
                exported = exports[node["Fn::ImportValue"]]
                found.add(exported.get("Ref") or exported["Fn::GetAtt"][0])
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(value)
    return found


def _alarms(app: SynthesizedApp) -> list[dict[str, Any]]:
    return [
        resource["Properties"]
        for resource in app.template("-Monitoring")["Resources"].values()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    ]


def _alarmed(app: SynthesizedApp, metric_name: str) -> set[str]:
    """Resources with an alarm on ``metric_name`` (directly or inside its metric math)."""
    covered: set[str] = set()
    for alarm in _alarms(app):
        metrics = [alarm] + [
            query["MetricStat"]["Metric"] for query in alarm.get("Metrics", []) if "MetricStat" in query
        ]
        if any(metric.get("MetricName") == metric_name for metric in metrics):
            covered |= _imported_resources(app, alarm)
    return covered


def test_every_workflow_alarms_on_failures_and_throttles(dev_app: SynthesizedApp) -> None:
    # Given every state machine of the app
    machines = set(dev_app.resources("AWS::StepFunctions::StateMachine"))
    assert machines

    # Then each has an alarm on executions that did not end well and one on throttled starts
    assert machines <= _alarmed(dev_app, "ExecutionsTimedOut") & _alarmed(dev_app, "ExecutionsAborted")
    assert machines <= _alarmed(dev_app, "ExecutionThrottled")
    # ... on failed ones too, except the trader-command workflow's, whose Fail states answer a trader's bad
    # command (400/404/409): its faults are 502/504s, which the trader API's 5XX alarm counts
    (trader_commands,) = [machine for machine in machines if "TraderCommand" in machine]
    assert _alarmed(dev_app, "ExecutionsFailed") & machines == machines - {trader_commands}
    assert len(machines) > 1


def test_every_function_alarms_on_errors_and_throttles(dev_app: SynthesizedApp) -> None:
    # Given every Lambda function of the app
    functions = set(dev_app.resources("AWS::Lambda::Function"))

    # Then each has an error alarm and a throttle alarm
    assert functions <= _alarmed(dev_app, "Errors")
    assert functions <= _alarmed(dev_app, "Throttles")


def test_every_rest_api_alarms_on_server_errors(dev_app: SynthesizedApp) -> None:
    # Given every REST API of the app (the ingest API today)
    apis = set(dev_app.resources("AWS::ApiGateway::RestApi"))
    assert apis

    # Then each has a 5XX alarm, whose ApiName dimension is the API's name
    server_error_alarms = [alarm for alarm in _alarms(dev_app) if alarm.get("MetricName") == "5XXError"]
    assert len(server_error_alarms) == len(apis)


def test_every_alarm_notifies_the_alarm_topic(dev_app: SynthesizedApp) -> None:
    # Given the alarm topic of the operations stack
    (topic_id,) = dev_app.template("-Operations")["Resources"].keys() & dev_app.resources("AWS::SNS::Topic").keys()

    # Then every service alarm sends to it, and only to it
    for alarm in _alarms(dev_app):
        assert len(alarm["AlarmActions"]) == 1
        assert _imported_resources(dev_app, alarm["AlarmActions"]) == {topic_id}


def test_latency_alarm_reads_the_bridge_metric_at_the_configured_p99(dev_app: SynthesizedApp) -> None:
    # Given the latency alarm
    (alarm,) = [alarm for alarm in _alarms(dev_app) if alarm.get("MetricName") == "FeedToIotLatency"]

    # Then it is the p99 of the metric the IoT bridge emits, against the stage's threshold
    assert alarm["ExtendedStatistic"] == "p99"
    assert alarm["Namespace"] == "SportsTradingEngine"
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "sports-trading-engine"}]
    assert alarm["Threshold"] == dev_app.engine.config.latency_alarm_p99_ms


def test_dashboard_graphs_every_queue_workflow_and_function(dev_app: SynthesizedApp) -> None:
    # Given the dashboard
    (dashboard,) = [
        resource
        for resource in dev_app.template("-Monitoring")["Resources"].values()
        if resource["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    body = dashboard["Properties"]["DashboardBody"]

    # Then every queue (dead-letter ones included), state machine and function is on it
    on_dashboard = _imported_resources(dev_app, body)
    for resource_type in ("AWS::SQS::Queue", "AWS::StepFunctions::StateMachine", "AWS::Lambda::Function"):
        assert set(dev_app.resources(resource_type)) <= on_dashboard, resource_type
    text = json.dumps(body)
    for metric in ("ApproximateNumberOfMessagesVisible", "ExecutionTime", "ColdStart", "FeedToIotLatency"):
        assert metric in text


def test_fixture_history_query_reads_the_feed_workflow_log(dev_app: SynthesizedApp) -> None:
    # Given the saved Logs Insights query
    (query,) = [
        resource["Properties"]
        for resource in dev_app.template("-Monitoring")["Resources"].values()
        if resource["Type"] == "AWS::Logs::QueryDefinition"
    ]
    (machine,) = [m for i, m in dev_app.resources("AWS::StepFunctions::StateMachine").items() if i.startswith("Feed")]
    workflow_log = machine["Properties"]["LoggingConfiguration"]["Destinations"][0]["CloudWatchLogsLogGroup"]

    # Then it reads the workflow's log group and selects one fixture's executions by name, oldest first
    assert _imported_resources(dev_app, query["LogGroupNames"]) == {workflow_log["LogGroupArn"]["Fn::GetAtt"][0]}
    assert "parse execution_arn /:feed-(?<fixture_id>.+)-(?<sequence>\\d+):[^:]+$/" in query["QueryString"]
    assert "sort @timestamp asc" in query["QueryString"]


def test_a_stack_added_later_is_picked_up() -> None:
    # Given an app with a stack the dashboard was never told about: one workflow, one function, two queues
    app = App()
    trader = Stack(app, "Trader")
    lambda_.Function(
        trader,
        "ApplyCommand",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return event\n"),
    )
    sfn.StateMachine(trader, "TraderCommand", definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(trader, "P")))
    dead_letters = sqs.Queue(trader, "CommandDeadLetters")
    commands = sqs.Queue(
        trader, "Commands", dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=3)
    )
    monitoring = Stack(app, "Monitoring")
    topic = sns.Topic(monitoring, "Alarms")
    log_group = logs.LogGroup(monitoring, "WorkflowLog")

    # When the dashboard watches every stack
    dashboard = OperationsDashboard(
        monitoring,
        "Dashboard",
        query_folder="test",
        watched_stacks=[trader],
        alarm_topic=topic,
        feed_log_group=log_group,
        latency_alarm_p99_ms=1500,
    )

    # Then the new workflow and function got their alarms, and both queues are graphed, each in its widget
    descriptions = sorted(alarm.node.id for alarm in dashboard.alarms)
    assert descriptions == [
        "ApplyCommandErrors",
        "ApplyCommandThrottles",
        "FeedToIotLatencyP99",
        "TraderCommandFailures",
        "TraderCommandThrottles",
    ]
    assert is_dead_letter_queue(dead_letters) and not is_dead_letter_queue(commands)
    body = json.dumps(Template.from_stack(monitoring).to_json())
    assert '"label\\":\\"CommandDeadLetters\\"' in body.replace(" ", "")
    assert '"label\\":\\"Commands\\"' in body.replace(" ", "")
