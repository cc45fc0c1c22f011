"""Builds the whole app for one stage; app.py and the tests share it, so they synthesize the same thing."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import App, Stack, Tags, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from stacks.config import StageConfig, load_stage_config
from stacks.console_stack import ConsoleStack
from stacks.fanout_stack import FanoutStack
from stacks.feed_stack import FeedStack
from stacks.monitoring_stack import MonitoringStack
from stacks.operations_stack import OperationsStack
from stacks.realtime_access_stack import RealtimeAccessStack
from stacks.storage_stack import StorageStack
from stacks.trader_stack import TraderStack
from stacks.trading_engine_rules import TradingEngineChecks

STAGE_CONTEXT_KEY = "trading-engine:stage"


@dataclass(frozen=True)
class TradingEngine:
    config: StageConfig
    operations: OperationsStack
    storage: StorageStack
    fanout: FanoutStack
    feed: FeedStack
    realtime_access: RealtimeAccessStack
    trader: TraderStack
    console: ConsoleStack
    monitoring: MonitoringStack

    @property
    def stacks(self) -> tuple[Stack, ...]:
        return (
            self.operations,
            self.storage,
            self.fanout,
            self.feed,
            self.realtime_access,
            self.trader,
            self.console,
            self.monitoring,
        )


def build_trading_engine(app: App, *, nag: bool = True) -> TradingEngine:
    """Add every stack of the stage named by the ``trading-engine:stage`` context to ``app``.

    Stacks are environment-agnostic (no account or region lookups), so synth is the same on every machine.
    cdk-nag's AwsSolutions and Serverless packs and the project's own TradingEngine pack
    (stacks/trading_engine_rules.py) run as validation plugins: a finding fails synth.
    """
    stage = app.node.try_get_context(STAGE_CONTEXT_KEY)
    context = {"trading-engine:stages": app.node.try_get_context("trading-engine:stages")}
    config = load_stage_config(context, stage)
    prefix = f"TradingEngine-{config.name}"
    operations = OperationsStack(app, f"{prefix}-Operations", config=config)
    storage = StorageStack(app, f"{prefix}-Storage", config=config)
    fanout = FanoutStack(app, f"{prefix}-Fanout", config=config, alarm_topic=operations.alarms.topic)
    feed = FeedStack(
        app,
        f"{prefix}-Feed",
        config=config,
        tables=storage.tables,
        price_topic=fanout.fanout.topic,
        alarm_topic=operations.alarms.topic,
    )
    realtime_access = RealtimeAccessStack(app, f"{prefix}-RealtimeAccess", config=config)
    trader = TraderStack(
        app,
        f"{prefix}-Trader",
        config=config,
        tables=storage.tables,
        price_topic=fanout.fanout.topic,
        realtime_access=realtime_access.access,
    )
    console = ConsoleStack(
        app,
        f"{prefix}-Console",
        config=config,
        # One REST API serves the trader commands and the queries; the console's distribution serves it on /v1/*.
        api=trader.api.api,
        user_pool=realtime_access.access.user_pool,
        user_pool_client=realtime_access.access.console_client,
        identity_pool_id=realtime_access.access.identity_pool.identity_pool_id,
    )
    # Last: it watches every stack already in the app, so a stack added above is picked up on the next synth.
    monitoring = MonitoringStack(
        app,
        f"{prefix}-Monitoring",
        config=config,
        watched_stacks=[child for child in app.node.children if isinstance(child, Stack)],
        alarm_topic=operations.alarms.topic,
        feed_log_group=feed.workflow.log_group,
    )
    Tags.of(app).add("project", "sports-trading-engine")
    Tags.of(app).add("stage", config.name)
    if nag:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app), TradingEngineChecks(app))
    return TradingEngine(config, operations, storage, fanout, feed, realtime_access, trader, console, monitoring)
