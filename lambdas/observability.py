"""The one place that creates the Powertools logger, tracer and metrics (configured from POWERTOOLS_* env vars)."""

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
# Metrics reads its namespace once, here: the fallback keeps a module imported before its environment
# was set (a test, a local run) from failing at flush time.
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "SportsTradingEngine"))
