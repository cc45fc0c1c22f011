"""The one place that creates the Powertools logger, tracer and metrics (configured from POWERTOOLS_* env vars)."""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
