"""The feed rules end to end: the hostile-feed review's cases posted to the ingest API (``POST /v1/feed-events``,
SigV4) of the local gateway, and checked where they land: the HTTP answer, the quarantine queue, the fixture item
and the books on the on-prem prices and settlement queues (docs/feed-events.md)."""

from __future__ import annotations

import hashlib
import itertools
import json
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from local_engine.engine import LocalEngine
from local_engine.gateway import LocalGateway
from tests.unit.domain.feeds import clock, created, goal, phase

pytestmark = pytest.mark.slow

PRICES = "OnPremPricesQueue"
SETTLEMENT = "OnPremSettlementQueue"
QUARANTINE = "QuarantinedEvents"
RACERS = 4
# How long a conditional write waits between its check and its write in the racing test (see its fixture).
CONDITION_HELD_OPEN_SECONDS = 0.15


@pytest.fixture(scope="module")
def gateway(engine: LocalEngine) -> Iterator[LocalGateway]:
    with LocalGateway(engine) as running:
        yield running


def _post(gateway: LocalGateway, body: bytes) -> tuple[int, Any]:
    """POST /v1/feed-events signed as the forwarder signs (SigV4, the engine's fake credentials)."""
    url = f"{gateway.url}/v1/feed-events"
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials("local-engine", "local-engine"), "execute-api", "eu-west-1").add_auth(request)
    http_request = urllib.request.Request(url, data=body, method="POST", headers=dict(request.prepare().headers))
    try:
        with urllib.request.urlopen(http_request, timeout=60) as response:  # noqa: S310 - loopback only
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@dataclass(frozen=True)
class Answer:
    """The ingest API's answer to one post, and the final state its execution ended in."""

    status: int
    body: dict[str, Any]
    final_state: str | None


@dataclass(frozen=True)
class Delivered:
    """One message as a queue's consumer receives it: the raw body, parsed, and its message attributes."""

    raw: str
    body: dict[str, Any]
    attributes: dict[str, str]


@dataclass
class FixtureFeed:
    """One fixture of a test's own, fed through the ingest API and read back from DynamoDB and the queues."""

    engine: LocalEngine
    gateway: LocalGateway
    fixture_id: str

    def of(self, raw: dict[str, Any]) -> dict[str, Any]:
        """A feed event (tests/unit/domain/feeds.py) for this fixture."""
        return {**raw, "fixture_id": self.fixture_id}

    def post(self, raw: dict[str, Any]) -> Answer:
        status, body = _post(self.gateway, json.dumps(self.of(raw)).encode())
        self.engine.drain()  # the execution is accounted (and its deliveries made) once drain returns
        return Answer(status, body, self.final_state(body.get("execution_arn")))

    def post_all(self, *events: dict[str, Any]) -> list[Answer]:
        return [self.post(raw) for raw in events]

    def final_state(self, execution_arn: str | None) -> str | None:
        return next((o.final_state for o in self.engine.outcomes if o.execution_arn == execution_arn), None)

    def item(self) -> dict[str, Any]:
        return self.engine.client("dynamodb").get_item(
            TableName=self.engine.table_name("Fixtures"),
            Key={"fixture_id": {"S": self.fixture_id}},
            ConsistentRead=True,
        )["Item"]

    def stored_books(self) -> dict[int, str]:
        """The Prices table's books of this fixture, by revision."""
        items = self.engine.client("dynamodb").query(
            TableName=self.engine.table_name("Prices"),
            KeyConditionExpression="fixture_id = :f",
            ExpressionAttributeValues={":f": {"S": self.fixture_id}},
            ConsistentRead=True,
        )["Items"]
        return {int(item["revision"]["N"]): item["book"]["S"] for item in items}

    def delivered(self, queue: str) -> list[Delivered]:
        """This fixture's messages on ``queue`` since the last read (the queue is received and emptied)."""
        sqs, url = self.engine.client("sqs"), self.engine.queue_url(queue)
        found: list[Delivered] = []
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
            "Messages", []
        ):
            for message in batch:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                body = json.loads(message["Body"])
                if (body.get("fixture_id") or body.get("event", {}).get("fixture_id")) == self.fixture_id:
                    attributes = {k: v["StringValue"] for k, v in message.get("MessageAttributes", {}).items()}
                    found.append(Delivered(message["Body"], body, attributes))
        return found

    def drained(self) -> None:
        """Forget what earlier posts delivered, so that the next reads hold only what follows."""
        for queue in (PRICES, SETTLEMENT, QUARANTINE):
            self.delivered(queue)


@pytest.fixture
def feed(engine: LocalEngine, gateway: LocalGateway, request: pytest.FixtureRequest) -> FixtureFeed:
    """A fixture id of the test's own (parametrized cases each get theirs): a digest of the test's id, then as
    much of its parameters' id as fits."""
    digest = hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:8]
    case = "".join(c if c.isalnum() or c in "_-" else "_" for c in request.node.name.partition("[")[2].rstrip("]"))
    return FixtureFeed(engine, gateway, f"E2E-RULES-{digest}-{case}"[:48].rstrip("-"))


def _score(item: dict[str, Any]) -> tuple[int, int]:
    return int(item["home_score"]["N"]), int(item["away_score"]["N"])


FIRST_HALF = [created(1), phase(2, "kick_off")]
FINISHED = [*FIRST_HALF, phase(4, "half_time"), phase(5, "second_half_kick_off"), phase(7, "full_time")]


def test_a_goal_before_kick_off_is_not_in_play_and_stays_so_when_redriven(feed: FixtureFeed) -> None:
    # Given a fixture created at sequence 10, a goal with sequence 5, and kick-off at 11, posted in that order
    the_goal = feed.of(goal(5, "home", 3))

    # When they are posted
    made, refused, kicked_off = feed.post_all(created(10), the_goal, phase(11, "kick_off"))

    # Then the goal is accepted by the API but quarantined as NotInPlay (at sequence 5 there was no match in play),
    # with the field, the period and the original event; kick-off is applied at 0-0
    assert (made.status, made.body["outcome"]) == (202, "processed")
    assert (refused.status, refused.body["accepted"], refused.body["outcome"]) == (202, True, "quarantined")
    assert refused.body["execution_arn"].endswith(f":feed-{feed.fixture_id}-5")
    assert refused.final_state == "EventQuarantined"
    assert kicked_off.final_state == "PricesPublished"
    (message,) = feed.delivered(QUARANTINE)
    assert message.body["error"] == "NotInPlay"
    assert message.body["cause"] == "type: goal is not legal: at sequence 5 the fixture was in phase pre_match"
    assert message.body["event"] == the_goal
    assert message.body["execution_name"] == f"feed-{feed.fixture_id}-5"
    item = feed.item()
    assert item["match_period"] == {"S": "first_half"} and _score(item) == (0, 0)
    assert "counted_incidents" not in item or item["counted_incidents"] == {"L": []}
    books = [d.body for d in feed.delivered(PRICES)]
    assert [(b["sequence"], b["phase"], b["score"]) for b in books] == [
        (10, "pre_match", {"home": 0, "away": 0}),
        (11, "in_play", {"home": 0, "away": 0}),
    ]

    # And when the quarantined goal is redriven later (posted again, after a clock tick)
    feed.post(clock(12, 4))
    feed.drained()
    before = feed.item()
    redriven = feed.post(the_goal)

    # Then it is NotInPlay again, never a duplicate: it was never applied, and nothing changed
    assert redriven.final_state == "EventQuarantined" and redriven.body["outcome"] == "quarantined"
    assert redriven.body["execution_arn"].endswith(f":feed-{feed.fixture_id}-5-redelivery-2")
    (again,) = feed.delivered(QUARANTINE)
    assert (again.body["error"], again.body["event"]) == ("NotInPlay", the_goal)
    assert "at sequence 5" in again.body["cause"]
    assert feed.item() == before
    assert feed.delivered(PRICES) == []


def test_kick_off_after_full_time_is_illegal_and_no_second_final_book_goes_out(feed: FixtureFeed) -> None:
    # Given a finished match, whose final book went to settlement
    answers = feed.post_all(*FINISHED)
    assert [a.final_state for a in answers] == ["PricesPublished"] * len(FINISHED)
    (final,) = feed.delivered(SETTLEMENT)
    assert final.body["result"] == {"kind": "final", "revision": 1} and final.attributes["result"] == "final"
    feed.drained()
    before = feed.item()

    # When the feed sends kick-off again
    kick_off = feed.of(phase(8, "kick_off"))
    answer = feed.post(kick_off)

    # Then it is quarantined as IllegalTransition naming full time; the match stays finished, nothing is published
    assert (answer.status, answer.body["outcome"], answer.final_state) == (202, "quarantined", "EventQuarantined")
    (message,) = feed.delivered(QUARANTINE)
    assert message.body["error"] == "IllegalTransition"
    assert message.body["cause"] == "type: kick_off is not legal in phase full_time"
    assert message.body["event"] == kick_off
    after = feed.item()
    assert after == before and after["match_period"] == {"S": "full_time"}
    assert feed.delivered(SETTLEMENT) == [] and feed.delivered(PRICES) == []


@pytest.mark.parametrize(
    ("before", "refused", "period"),
    [
        pytest.param([created(1)], phase(2, "full_time"), "pre_match", id="full_time-after-creation"),
        pytest.param([created(1)], phase(2, "second_half_kick_off"), "pre_match", id="second_half-without-kick_off"),
        pytest.param([created(1)], phase(2, "half_time"), "pre_match", id="half_time-before-kick_off"),
        pytest.param([*FIRST_HALF, clock(3, 12)], phase(4, "kick_off"), "first_half", id="second-kick_off"),
    ],
)
def test_a_phase_change_out_of_turn_is_illegal_and_changes_nothing(
    feed: FixtureFeed, before: list[dict[str, Any]], refused: dict[str, Any], period: str
) -> None:
    # Given a fixture in some period
    assert {a.final_state for a in feed.post_all(*before)} == {"PricesPublished"}
    feed.drained()
    unchanged = feed.item()

    # When a phase change that is not legal there is posted
    answer = feed.post(refused)

    # Then it is accepted, quarantined as IllegalTransition naming the period, and the fixture is as it was
    assert (answer.status, answer.body["outcome"], answer.final_state) == (202, "quarantined", "EventQuarantined")
    (message,) = feed.delivered(QUARANTINE)
    assert message.body["error"] == "IllegalTransition"
    assert message.body["cause"] == f"type: {refused['type']} is not legal in phase {period}"
    assert message.body["event"] == feed.of(refused)
    assert feed.item() == unchanged
    assert feed.delivered(PRICES) == [] and feed.delivered(SETTLEMENT) == []


def test_a_late_goal_after_full_time_is_counted_and_corrects_the_settled_result(feed: FixtureFeed) -> None:
    # Given a finished match (0-0, final book settled) and a goal whose sequence (6) is before full time (7), when
    # the second half was in play
    feed.post_all(*FINISHED)
    (final,) = feed.delivered(SETTLEMENT)
    assert (final.body["result"], final.body["score"]) == ({"kind": "final", "revision": 1}, {"home": 0, "away": 0})
    feed.drained()

    # When the goal arrives after full time
    answer = feed.post(goal(6, "away", 80))

    # Then it is counted, once: the score changes, the match stays finished, and a correction of the result reaches
    # settlement after the final book (a newer fixture revision), filtered on its result attribute
    assert (answer.status, answer.body["outcome"], answer.final_state) == (202, "processed", "PricesPublished")
    item = feed.item()
    assert _score(item) == (0, 1)
    assert item["match_period"] == {"S": "full_time"} and item["last_sequence"] == {"N": "7"}
    assert item["result_revision"] == {"N": "2"}
    (correction,) = feed.delivered(SETTLEMENT)
    assert correction.body["result"] == {"kind": "correction", "revision": 2}
    assert correction.attributes["result"] == "correction"
    assert correction.body["score"] == {"home": 0, "away": 1}
    assert correction.body["revision"] > final.body["revision"]
    assert correction.body["source_event"]["type"] == "goal"
    assert [d.raw for d in feed.delivered(PRICES)] == [correction.raw]
    assert feed.delivered(QUARANTINE) == []

    # And when the same goal is delivered again, it is a duplicate: no second correction
    again = feed.post(goal(6, "away", 80))
    assert again.final_state == "SkippedAsDuplicate"
    assert feed.delivered(SETTLEMENT) == [] and _score(feed.item()) == (0, 1)


@pytest.mark.parametrize(
    ("conflicting", "field"),
    [
        pytest.param(goal(3, "away", 20), "sequence", id="same-sequence-other-content"),
        pytest.param(goal(4, "home", 20, event_id="opta-0003"), "event_id", id="same-event_id-new-sequence"),
    ],
)
def test_a_conflicting_copy_is_quarantined_with_the_original(
    feed: FixtureFeed, conflicting: dict[str, Any], field: str
) -> None:
    # Given a home goal applied at sequence 3 (event opta-0003)
    original = feed.of(goal(3, "home", 20))
    feed.post_all(*FIRST_HALF, original)
    feed.drained()
    before = feed.item()
    assert _score(before) == (1, 0)

    # When another event under its sequence, or its event id under another sequence, is posted
    answer = feed.post(conflicting)

    # Then it is quarantined as ConflictingDuplicate: the new version as the event, the original in the cause,
    # and the score is untouched
    assert (answer.status, answer.body["outcome"], answer.final_state) == (202, "quarantined", "EventQuarantined")
    (message,) = feed.delivered(QUARANTINE)
    assert message.body["error"] == "ConflictingDuplicate"
    assert message.body["event"] == feed.of(conflicting)
    cause = json.loads(message.body["cause"])
    assert cause["cause"].startswith(f"{field}: ")
    assert cause["original"] == original
    assert feed.item() == before
    assert feed.delivered(PRICES) == []


IN_PLAY_GOAL = goal(3, "home", 20)


@pytest.mark.parametrize(
    ("malformed", "field"),
    [
        pytest.param({**IN_PLAY_GOAL, "occurred_at": "0001-01-01T00:00:00+14:00"}, "occurred_at", id="before-year-1"),
        pytest.param({**IN_PLAY_GOAL, "occurred_at": "2031-06-01T12:00:00Z"}, "occurred_at", id="years-ahead"),
        pytest.param({**IN_PLAY_GOAL, "occurred_at": "1999-12-31T23:59:59Z"}, "occurred_at", id="last-century"),
        pytest.param({**IN_PLAY_GOAL, "occurred_at": "2026-02-30T12:00:00Z"}, "occurred_at", id="february-30"),
        pytest.param({**IN_PLAY_GOAL, "minute": 50}, "minute", id="goal-minute-outside-first-half"),
        pytest.param(clock(3, 46), "minute", id="clock-minute-outside-first-half"),
        pytest.param(created(3, kick_off_at="2040-01-01T15:00:00Z"), "kick_off_at", id="kick_off-years-ahead"),
    ],
)
def test_an_event_the_schema_passes_but_the_model_refuses_is_malformed_and_writes_nothing(
    feed: FixtureFeed, malformed: dict[str, Any], field: str
) -> None:
    # Given a fixture in the first half
    feed.post_all(*FIRST_HALF)
    feed.drained()
    before = feed.item()

    # When an event that matches the JSON schema but holds an impossible value is posted
    answer = feed.post(malformed)

    # Then the API accepts it (the schema cannot tell), the workflow quarantines it as MalformedEvent naming the
    # field, and nothing is written or published
    assert (answer.status, answer.body["outcome"], answer.final_state) == (202, "quarantined", "EventQuarantined")
    (message,) = feed.delivered(QUARANTINE)
    assert message.body["error"] == "MalformedEvent"
    assert message.body["cause"].startswith(f"{field}: ")
    assert message.body["event"] == feed.of(malformed)
    assert feed.item() == before
    assert feed.delivered(PRICES) == []


def _race(feed: FixtureFeed, raw: dict[str, Any]) -> list[Answer]:
    """The same event posted RACERS times at once (the gateway serves each request on its own thread)."""
    body = json.dumps(feed.of(raw)).encode()
    with ThreadPoolExecutor(RACERS) as pool:
        posted = list(pool.map(lambda _: _post(feed.gateway, body), range(RACERS)))
    feed.engine.drain()
    return [Answer(status, answer, feed.final_state(answer.get("execution_arn"))) for status, answer in posted]


def _overlapping(engine: LocalEngine, answers: list[Answer]) -> bool:
    """Whether two of the answers' executions ran at the same time."""
    sfn = engine.client("stepfunctions")
    described = [sfn.describe_execution(executionArn=a.body["execution_arn"]) for a in answers]
    spans = sorted((d["startDate"], d["stopDate"]) for d in described)
    return any(later_start < stop for (_, stop), (later_start, _) in itertools.pairwise(spans))


class _HeldOpenCondition:
    """A parsed condition that, once it holds, waits before the write goes on (see the fixture below)."""

    def __init__(self, condition: Any, seconds: float) -> None:
        self._condition, self._seconds = condition, seconds

    def expr(self, item: Any) -> bool:
        holds = bool(self._condition.expr(item))
        if holds:
            time.sleep(self._seconds)
        return holds


class _HeldOpenParser:
    """moto's condition expression parser, whose parsed conditions are held open."""

    def __init__(self, parser: Any, seconds: float) -> None:
        self._parser, self._seconds = parser, seconds

    def parse(self) -> _HeldOpenCondition:
        return _HeldOpenCondition(self._parser.parse(), self._seconds)


@pytest.fixture
def conditional_writes_held_open(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worst scheduling of concurrent writers, made deterministic: every conditional write whose condition
    holds waits CONDITION_HELD_OPEN_SECONDS between the check and the write. DynamoDB evaluates a condition and
    writes atomically per item, so in AWS the outcome of a race does not depend on this; moto checks, then writes,
    and only the local engine's lock (local_engine/dynamodb_atomicity.py) keeps a racing writer out in between."""
    from moto.dynamodb import models as dynamodb_models

    original = dynamodb_models.create_condition_expression_parser

    def held_open(expression: str | None, names: Any, values: Any) -> Any:
        parser = original(expression, names, values)
        return _HeldOpenParser(parser, CONDITION_HELD_OPEN_SECONDS) if expression else parser

    monkeypatch.setattr(dynamodb_models, "create_condition_expression_parser", held_open)


@pytest.mark.usefixtures("conditional_writes_held_open")
@pytest.mark.parametrize(
    ("before", "racing", "score", "settled"),
    [
        pytest.param(FIRST_HALF, IN_PLAY_GOAL, (1, 0), None, id="goal-in-play"),
        pytest.param(FINISHED[:-1], phase(7, "full_time"), (0, 0), "final", id="full_time"),
        pytest.param(FINISHED, goal(6, "away", 80), (0, 1), "correction", id="late-goal-after-full_time"),
    ],
)
def test_racing_duplicates_make_one_revision_and_one_book(
    feed: FixtureFeed,
    before: list[dict[str, Any]],
    racing: dict[str, Any],
    score: tuple[int, int],
    settled: str | None,
) -> None:
    # Given a fixture with its books delivered
    feed.post_all(*before)
    feed.drained()
    revision = int(feed.item()["revision"]["N"])

    # When the same event is submitted several times at once
    answers = _race(feed, racing)

    # Then every copy is accepted and ends in one final state; exactly one publishes, the others skip (or, having
    # republished the winner's revision first, leave the winner superseded)
    assert {(a.status, a.body["outcome"]) for a in answers} == {(202, "processed")}
    assert _overlapping(feed.engine, answers), "the copies ran one after another: nothing raced"
    # ...the fixture moved one revision, a goal counted once
    item = feed.item()
    assert int(item["revision"]["N"]) == revision + 1 and _score(item) == score
    assert item["published_revision"] == {"N": str(revision + 1)}
    # ...one book on the prices queue, byte-identical to the stored one, and one on settlement for a result
    books = feed.delivered(PRICES)
    assert [b.body["revision"] for b in books] == [revision + 1]
    assert books[0].raw == feed.stored_books()[revision + 1]
    settlement = feed.delivered(SETTLEMENT)
    if settled is None:
        assert settlement == []
    else:
        assert [(d.raw, d.attributes["result"]) for d in settlement] == [(books[0].raw, settled)]
    assert feed.delivered(QUARANTINE) == []
    states = Counter(a.final_state for a in answers)
    assert states["PricesPublished"] == 1, states
    assert set(states) <= {"PricesPublished", "SkippedAsDuplicate", "SupersededBeforePublishing"}, states
