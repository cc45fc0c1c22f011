"""One dashboard and the service alarms for every workflow, function and queue of the app.

The construct is generic over the app: it finds every Step Functions state machine, Lambda function and
SQS queue in the given stacks, so a stack added later (a trader API, a query API) shows up on the next synth
without touching this file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.constants import FAIL_STATES_ARE_ANSWERS, METRICS_NAMESPACE, SERVICE_NAME

PERIOD = Duration.minutes(1)
ALARM_PERIOD = Duration.minutes(5)
WIDGET_WIDTH = 12  # two graphs per row (the dashboard grid is 24 wide)
WIDGET_HEIGHT = 6
# The fixture a saved query starts with; operators replace it with the fixture they are looking at.
EXAMPLE_FIXTURE_ID = "EPL-2026-ARS-CHE"


def short_name(construct: Construct) -> str:
    """A label a person reads: the construct path without the stack, e.g. ``FeedWorkflow/FeedEvent``."""
    return "/".join(part for part in construct.node.path.split("/")[1:] if part != "Resource")


def find_all(stacks: Iterable[Stack], kind: type) -> list:
    """Every construct of ``kind`` in ``stacks``, in a stable order (by construct path)."""
    found = [child for stack in stacks for child in stack.node.find_all() if isinstance(child, kind)]
    return sorted(found, key=lambda construct: construct.node.path)


def is_dead_letter_queue(queue: sqs.Queue) -> bool:
    """A queue without a dead-letter queue of its own is one (cdk-nag's AwsSolutions-SQS3 allows nothing else)."""
    return queue.dead_letter_queue is None


def feed_to_iot_latency(statistic: str) -> cloudwatch.Metric:
    """Feed timestamp -> IoT publish, emitted by the IoT bridge (lambdas/handlers/publish_prices_to_iot.py)."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name="FeedToIotLatency",
        dimensions_map={"service": SERVICE_NAME},
        statistic=statistic,
        period=PERIOD,
        unit=cloudwatch.Unit.MILLISECONDS,
    )


def cold_starts(function: lambda_.Function) -> cloudwatch.Metric:
    """Powertools' ``ColdStart`` metric (``capture_cold_start_metric=True`` on every handler)."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name="ColdStart",
        dimensions_map={"function_name": function.function_name, "service": SERVICE_NAME},
        statistic=cloudwatch.Stats.SUM,
        period=PERIOD,
        label=f"{short_name(function)} cold starts",
    )


FIXTURE_HISTORY_QUERY = "\n".join(
    [
        "fields @timestamp, type, execution_arn, details.name as state, details.error as error",
        # Execution names are feed-{fixture_id}-{sequence} (the ingest API's idempotency key).
        "| parse execution_arn /:feed-(?<fixture_id>.+)-(?<sequence>\\d+):[^:]+$/",
        f'| filter fixture_id = "{EXAMPLE_FIXTURE_ID}"',
        "| sort @timestamp asc, id asc",
        "| limit 10000",
    ]
)


class OperationsDashboard(Construct):
    """The stage's dashboard, its service alarms (to the alarm topic) and the saved Logs Insights queries.

    Parameters
    ----------
    query_folder
        The folder of the saved queries in the Logs Insights console (one per stage).
    watched_stacks
        The stacks whose state machines, functions and queues are graphed and alarmed.
    alarm_topic
        Every alarm notifies it (and through it the stage's optional e-mail subscription).
    feed_log_group
        The feed workflow's execution log (level ALL with execution data): the saved fixture query reads it.
    latency_alarm_p99_ms
        The end-to-end latency (feed timestamp to IoT publish) whose p99 over five minutes raises an alarm.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        query_folder: str,
        watched_stacks: Sequence[Stack],
        alarm_topic: sns.ITopic,
        feed_log_group: logs.ILogGroup,
        latency_alarm_p99_ms: int,
    ) -> None:
        super().__init__(scope, id_)
        self._alarm_action = cloudwatch_actions.SnsAction(alarm_topic)
        self.alarms: list[cloudwatch.Alarm] = []
        state_machines: list[sfn.StateMachine] = find_all(watched_stacks, sfn.StateMachine)
        functions: list[lambda_.Function] = find_all(watched_stacks, lambda_.Function)
        queues: list[sqs.Queue] = find_all(watched_stacks, sqs.Queue)
        apis: list[apigateway.RestApi] = find_all(watched_stacks, apigateway.RestApi)

        self._alarm(
            "FeedToIotLatencyP99",
            metric=feed_to_iot_latency("p99").with_(period=ALARM_PERIOD),
            threshold=latency_alarm_p99_ms,
            description=f"p99 feed-to-IoT latency above {latency_alarm_p99_ms} ms over 5 minutes",
        )
        rows: list[list[cloudwatch.IWidget]] = [
            [
                cloudwatch.TextWidget(
                    markdown=(
                        "# Sports trading engine\n"
                        "Feed event -> workflow -> price topic -> on-prem queues and IoT. "
                        "Every execution of one fixture: the saved Logs Insights query *fixture-history*."
                    ),
                    width=WIDGET_WIDTH,
                    height=WIDGET_HEIGHT,
                ),
                cloudwatch.GraphWidget(
                    title="End-to-end latency: feed timestamp -> IoT publish (ms)",
                    left=[feed_to_iot_latency(statistic) for statistic in ("p50", "p90", "p99")],
                    left_annotations=[cloudwatch.HorizontalAnnotation(value=latency_alarm_p99_ms, label="p99 alarm")],
                    width=WIDGET_WIDTH,
                    height=WIDGET_HEIGHT,
                ),
            ],
        ]

        for api in apis:
            name = short_name(api)
            self._alarm(
                f"{name.replace('/', '')}ServerErrors",
                metric=api.metric_server_error(period=ALARM_PERIOD, statistic=cloudwatch.Stats.SUM),
                threshold=0,
                description=f"{name}: requests failed with a 5XX (the sender retries; check the integration)",
            )
            rows.append(
                [
                    cloudwatch.GraphWidget(
                        title=f"{name}: requests per minute (4XX includes 429 throttling)",
                        left=[
                            api.metric_count(period=PERIOD, label="requests"),
                            api.metric_client_error(period=PERIOD, label="4XX"),
                            api.metric_server_error(period=PERIOD, label="5XX"),
                        ],
                        width=WIDGET_WIDTH,
                        height=WIDGET_HEIGHT,
                    ),
                    cloudwatch.GraphWidget(
                        title=f"{name}: latency (ms)",
                        left=[api.metric_latency(period=PERIOD, statistic=s, label=s) for s in ("p50", "p99")],
                        width=WIDGET_WIDTH,
                        height=WIDGET_HEIGHT,
                    ),
                ]
            )

        for state_machine in state_machines:
            name = short_name(state_machine)
            alarm_id = name.replace("/", "")
            ends: dict[str, cloudwatch.IMetric] = {}
            if _fail_states_are_answers(state_machine):
                # A trader's refused command ends in a Fail state: an answer, not a fault (faults are API 5XX).
                description = f"{name}: executions timed out or were aborted"
            else:
                ends["failed"] = state_machine.metric_failed(period=ALARM_PERIOD)
                description = f"{name}: executions failed"
            ends["timedOut"] = state_machine.metric_timed_out(period=ALARM_PERIOD)
            ends["aborted"] = state_machine.metric_aborted(period=ALARM_PERIOD)
            failures = cloudwatch.MathExpression(
                expression=" + ".join(ends),
                using_metrics=ends,
                label=f"{name} executions that did not succeed",
                period=ALARM_PERIOD,
            )
            self._alarm(f"{alarm_id}Failures", metric=failures, threshold=0, description=description)
            self._alarm(
                f"{alarm_id}Throttles",
                metric=state_machine.metric_throttled(period=ALARM_PERIOD),
                threshold=0,
                description=f"{name}: StartExecution was throttled (events wait or are retried by the sender)",
            )
            rows.append(
                [
                    cloudwatch.GraphWidget(
                        title=f"{name}: executions per minute",
                        left=[
                            state_machine.metric_started(period=PERIOD, label="started"),
                            state_machine.metric_succeeded(period=PERIOD, label="succeeded"),
                            state_machine.metric_failed(period=PERIOD, label="failed"),
                            state_machine.metric_timed_out(period=PERIOD, label="timed out"),
                            state_machine.metric_throttled(period=PERIOD, label="throttled"),
                        ],
                        width=WIDGET_WIDTH,
                        height=WIDGET_HEIGHT,
                    ),
                    cloudwatch.GraphWidget(
                        title=f"{name}: execution time (ms)",
                        left=[
                            state_machine.metric_time(period=PERIOD, statistic=statistic, label=statistic)
                            for statistic in ("p50", "p99", "Maximum")
                        ],
                        width=WIDGET_WIDTH,
                        height=WIDGET_HEIGHT,
                    ),
                ]
            )

        for function in functions:
            name = short_name(function)
            alarm_id = name.replace("/", "")
            self._alarm(
                f"{alarm_id}Errors",
                metric=function.metric_errors(period=ALARM_PERIOD, statistic=cloudwatch.Stats.SUM),
                threshold=0,
                description=f"{name}: invocations failed",
            )
            self._alarm(
                f"{alarm_id}Throttles",
                metric=function.metric_throttles(period=ALARM_PERIOD, statistic=cloudwatch.Stats.SUM),
                threshold=0,
                description=f"{name}: invocations were throttled (concurrency limit reached)",
            )
        rows.append(
            [
                cloudwatch.GraphWidget(
                    title="Lambda errors and throttles per minute",
                    left=[
                        metric
                        for function in functions
                        for metric in (
                            function.metric_errors(period=PERIOD, label=f"{short_name(function)} errors"),
                            function.metric_throttles(period=PERIOD, label=f"{short_name(function)} throttles"),
                        )
                    ],
                    width=WIDGET_WIDTH,
                    height=WIDGET_HEIGHT,
                ),
                cloudwatch.GraphWidget(
                    title="Lambda cold starts per minute, duration p99 (ms)",
                    left=[cold_starts(function) for function in functions],
                    right=[
                        function.metric_duration(period=PERIOD, statistic="p99", label=f"{short_name(function)} p99")
                        for function in functions
                    ],
                    width=WIDGET_WIDTH,
                    height=WIDGET_HEIGHT,
                ),
            ]
        )

        def depth(queue: sqs.Queue) -> cloudwatch.Metric:
            return queue.metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic=cloudwatch.Stats.MAXIMUM, label=short_name(queue)
            )

        rows.append(
            [
                cloudwatch.GraphWidget(
                    title="Dead-letter and quarantine queues: messages waiting",
                    left=[depth(queue) for queue in queues if is_dead_letter_queue(queue)],
                    width=WIDGET_WIDTH,
                    height=WIDGET_HEIGHT,
                ),
                cloudwatch.GraphWidget(
                    title="Working queues: messages waiting (on-prem consumers behind?)",
                    left=[depth(queue) for queue in queues if not is_dead_letter_queue(queue)],
                    width=WIDGET_WIDTH,
                    height=WIDGET_HEIGHT,
                ),
            ]
        )
        rows.append(
            [
                cloudwatch.AlarmStatusWidget(
                    title="Service alarms",
                    alarms=self.alarms,
                    width=2 * WIDGET_WIDTH,
                    height=WIDGET_HEIGHT,
                )
            ]
        )
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            default_interval=Duration.hours(3),
            widgets=rows,
        )
        # The L1 resource takes the query as written; logs.QueryString would re-render the parse regex.
        self.fixture_history = logs.CfnQueryDefinition(
            self,
            "FixtureHistory",
            name=f"{query_folder}/fixture-history",
            query_string=FIXTURE_HISTORY_QUERY,
            log_group_names=[feed_log_group.log_group_name],
        )

    def _alarm(self, id_: str, *, metric: cloudwatch.IMetric, threshold: float, description: str) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            id_,
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._alarm_action)
        self.alarms.append(alarm)
        return alarm


def _fail_states_are_answers(state_machine: sfn.StateMachine) -> bool:
    return any(entry.type == FAIL_STATES_ARE_ANSWERS for entry in state_machine.node.metadata)
