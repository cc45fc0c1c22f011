#!/usr/bin/env python3
"""The CDK app. Choose the stage with `-c trading-engine:stage=prod` (default: dev, from cdk.json)."""

from aws_cdk import App

from stacks.app_builder import build_trading_engine

app = App(analytics_reporting=False)
build_trading_engine(app)
app.synth()
