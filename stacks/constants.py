"""Names and sizes shared by the stacks, in one place (units in the comments)."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STATE_MACHINES_DIR = PROJECT_ROOT / "statemachines"
FEED_EVENT_SCHEMA_FILE = PROJECT_ROOT / "docs" / "schemas" / "feed-event.schema.json"
TRADER_COMMAND_SCHEMA_FILE = PROJECT_ROOT / "docs" / "schemas" / "trader-command.schema.json"
# Built by `make build`: the Lambda dependencies for arm64, installed with pip --platform (no Docker).
LAMBDA_LAYER_DIR = PROJECT_ROOT / ".build" / "lambda-layer"

# Step Functions caps an execution's input at 256 KB (262,144 bytes of UTF-8); API Gateway takes bodies up to 10 MB.
EXECUTION_INPUT_LIMIT_BYTES = 262_144

SERVICE_NAME = "sports-trading-engine"
METRICS_NAMESPACE = "SportsTradingEngine"

# The MQTT topic hierarchy: trading/v1/fixtures/{fixture_id}/prices (4 slashes; IoT allows 7).
# A browser subscribes once to trading/v1/fixtures/+/prices and sees every fixture.
IOT_PRICE_TOPIC_PREFIX = "trading/v1/fixtures"

PRICING_FUNCTION_MEMORY_MB = 1024  # numpy's matrix work is CPU-bound; Lambda CPU scales with memory
PRICING_FUNCTION_TIMEOUT_SECONDS = 4  # under the workflow task's 5 s, so a timed-out task never overlaps its retry
IOT_BRIDGE_MEMORY_MB = 256
IOT_BRIDGE_TIMEOUT_SECONDS = 15

QUEUE_RETENTION_DAYS = 14  # the SQS maximum: an on-prem outage of up to two weeks loses nothing
QUEUE_VISIBILITY_TIMEOUT_SECONDS = 60
QUEUE_MAX_RECEIVE_COUNT = 5  # deliveries before a message moves to its dead-letter queue

# The fixtures table's index of kick-off times (partition: sport, sort: kick_off_at as the feed sent it),
# read by the capacity planner every CAPACITY_PLANNER_RATE_MINUTES.
FIXTURES_KICK_OFF_INDEX = "by-kick-off"
CAPACITY_PLANNER_RATE_MINUTES = 15
CAPACITY_PLANNER_MEMORY_MB = 256
CAPACITY_PLANNER_TIMEOUT_SECONDS = 60
PRICING_ALIAS_NAME = "live"
# Built by `make build`: the trader console (web/console) with npm mqtt's browser bundle in vendor/.
CONSOLE_SITE_DIR = PROJECT_ROOT / ".build" / "console"

# Construct metadata on a state machine whose Fail states answer callers (a trader's bad command is a 400, not a
# fault): its failed executions do not alarm; its faults reach callers as 5XX, which its API alarms on.
FAIL_STATES_ARE_ANSWERS = "trading-engine:fail-states-are-answers"
