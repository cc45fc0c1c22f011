"""The trader and query APIs served locally as deployed: sign-in, commands through the synchronous trader-command
workflow (the real ASL, the real pricing handler), the audit, the ordering guard, and the queries' Lambda.

Cognito is out of reach locally: the gateway's local sign-in stands in for it (local_engine/gateway.py says how).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from lambdas.pricing.margins import remove_margin
from local_engine.engine import LocalEngine
from local_engine.faults import FaultPlan, FaultSpec
from local_engine.gateway import LocalGateway
from tests.e2e.conftest import MqttSubscriber, match_events
from tests.e2e.conftest import call_api as _call

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def token(gateway: LocalGateway) -> str:
    status, body = _call(gateway, "POST", "/local/sign-in", {"username": "alice"})
    assert status == 200
    return str(body["token"])


def _start_match(engine: LocalEngine, fixture_id: str, *, through_sequence: int) -> None:
    for event in match_events(fixture_id)[:through_sequence]:
        assert engine.run(event).kind == "applied"


def _command(gateway: LocalGateway, token: str, fixture_id: str, command: dict[str, Any]) -> tuple[int, Any]:
    return _call(gateway, "POST", f"/fixtures/{quote(fixture_id, safe='')}/commands", command, token=token)


def _market(book: dict[str, Any], market_type: str) -> list[dict[str, Any]]:
    return [market for market in book["markets"] if market["type"] == market_type]


def _fixture_item(engine: LocalEngine, fixture_id: str) -> dict[str, Any]:
    return engine.client("dynamodb").get_item(
        TableName=engine.table_name("Fixtures"), Key={"fixture_id": {"S": fixture_id}}, ConsistentRead=True
    )["Item"]


def test_commands_need_a_signed_in_trader(gateway: LocalGateway, engine: LocalEngine) -> None:
    _start_match(engine, "E2E-TRADER-AUTH", through_sequence=1)

    status, body = _command(gateway, "not-a-token", "E2E-TRADER-AUTH", {"command": "suspend"})

    assert (status, body) == (401, {"message": "Unauthorized"})
    assert "trader_suspended" not in _fixture_item(engine, "E2E-TRADER-AUTH")


def test_suspending_a_market_reprices_publishes_and_audits(
    gateway: LocalGateway, engine: LocalEngine, token: str, subscriber: MqttSubscriber
) -> None:
    # Given a match in play (kicked off, a clock tick)
    fixture_id = "E2E-TRADER-SUSPEND"
    _start_match(engine, fixture_id, through_sequence=3)
    revision_before = int(_fixture_item(engine, fixture_id)["revision"]["N"])

    # When the trader suspends the total-goals markets
    status, answer = _command(gateway, token, fixture_id, {"command": "suspend", "market_type": "total_goals"})

    # Then the answer is the new book: total goals suspended, the rest open, one revision on
    assert status == 200, answer
    assert answer["published"] is True and answer["revision"] == revision_before + 1
    book = answer["book"]
    assert {m["status"] for m in _market(book, "total_goals")} == {"suspended"}
    assert {m["status"] for m in _market(book, "match_result")} == {"open"}
    assert book["source_event"]["type"] == "trader:suspend"
    # ... DynamoDB holds the setting, the book went out over MQTT and is stored under its revision
    assert _fixture_item(engine, fixture_id)["suspended_market_types"] == {"SS": ["total_goals"]}
    published = subscriber.wait_for(fixture_id, 4)  # three feed events' books, then the command's
    assert published[-1]["revision"] == answer["revision"]
    assert {m["status"] for m in _market(published[-1], "total_goals")} == {"suspended"}
    # ... and the audit says who did what, before (recorded first) and after (appended once applied)
    requested, applied = _audit(engine, fixture_id)
    for record in (requested, applied):
        assert json.loads(record["actor"]["S"])["username"] == "alice"
        assert json.loads(record["command"]["S"]) == {"command": "suspend", "market_type": "total_goals"}
    assert (requested["outcome"]["S"], applied["outcome"]["S"]) == ("requested", "applied")
    assert json.loads(requested["before"]["S"])["suspended_market_types"] == []
    assert json.loads(applied["after_state"]["S"])["suspended_market_types"] == ["total_goals"]

    # When the next feed event (a goal) arrives, the suspension holds in the feed's book too
    goal = match_events(fixture_id)[3]
    assert engine.run(goal).kind == "applied"
    after_goal = subscriber.wait_for(fixture_id, 5)[-1]
    assert after_goal["revision"] > answer["revision"]
    # (the goal settles the 0.5 line; every line still offered stays suspended)
    assert {m["status"] for m in _market(after_goal, "total_goals")} == {"suspended", "settled"}

    # When the trader resumes it, the market is offered again
    status, resumed = _command(gateway, token, fixture_id, {"command": "resume", "market_type": "total_goals"})
    assert status == 200
    assert "suspended_market_types" not in _fixture_item(engine, fixture_id)
    assert {m["status"] for m in _market(resumed["book"], "total_goals")} != {"suspended"}


def test_a_margin_change_widens_the_book(gateway: LocalGateway, engine: LocalEngine, token: str) -> None:
    fixture_id = "E2E-TRADER-MARGIN"
    _start_match(engine, fixture_id, through_sequence=3)

    def overround(book: dict[str, Any]) -> float:
        (match_result,) = _market(book, "match_result")
        return sum(1 / s["price"] for s in match_result["selections"])

    status, low = _command(
        gateway, token, fixture_id, {"command": "set_margin", "market_type": "match_result", "margin": 0.02}
    )
    assert status == 200
    status, high = _command(
        gateway, token, fixture_id, {"command": "set_margin", "market_type": "match_result", "margin": 0.12}
    )
    assert status == 200

    assert 1.02 <= overround(low["book"]) < 1.06
    assert 1.12 <= overround(high["book"]) < 1.16
    assert _fixture_item(engine, fixture_id)["margin_match_result"] == {"N": "0.12"}


def test_a_price_override_is_offered(gateway: LocalGateway, engine: LocalEngine, token: str) -> None:
    fixture_id = "E2E-TRADER-OVERRIDE"
    _start_match(engine, fixture_id, through_sequence=3)

    status, answer = _command(
        gateway,
        token,
        fixture_id,
        {
            "command": "override_price",
            "market_type": "match_result",
            "selection": "home",
            "price": 2.5,
            "for_seconds": 600,
        },
    )

    assert status == 200, answer
    (match_result,) = _market(answer["book"], "match_result")
    assert {s["name"]: s["price"] for s in match_result["selections"]}["home"] == 2.5


def _audit(engine: LocalEngine, fixture_id: str, outcome: str | None = None) -> list[dict[str, Any]]:
    """The fixture's audit records in order (each command: requested, then applied or refused)."""
    records = engine.client("dynamodb").query(
        TableName=engine.table_name("TraderActions"),
        KeyConditionExpression="fixture_id = :f",
        ExpressionAttributeValues={":f": {"S": fixture_id}},
    )["Items"]
    return [r for r in records if outcome in (None, r["outcome"]["S"])]


def _fair(book: dict[str, Any], market_type: str, line: float | None = None) -> dict[str, float]:
    (market,) = [m for m in _market(book, market_type) if m["line"] == line]
    return {s["name"]: s["fair_probability"] for s in market["selections"]}


def test_pre_match_inputs_are_taken_in_each_form(gateway: LocalGateway, engine: LocalEngine, token: str) -> None:
    # Given a fixture before kick-off
    fixture_id = "E2E-TRADER-PRE-MATCH"
    _start_match(engine, fixture_id, through_sequence=1)

    # When the trader gives supremacy and total, the fixture holds the goal expectations they mean
    status, answer = _command(
        gateway, token, fixture_id, {"command": "set_pre_match", "supremacy": 0.5, "total_goals_expected": 2.75}
    )
    assert status == 200, answer
    item = _fixture_item(engine, fixture_id)
    assert (float(item["home_goals_expected"]["N"]), float(item["away_goals_expected"]["N"])) == (1.625, 1.125)
    assert "dixon_coles_rho" not in item
    assert answer["book"]["source_event"]["type"] == "trader:set_pre_match"

    # When the trader gives market odds, the book's fair probabilities are the odds' own, margin removed
    odds = {"home": 2.10, "draw": 3.40, "away": 3.60, "over_2_5": 1.95, "under_2_5": 1.90}
    status, answer = _command(gateway, token, fixture_id, {"command": "set_pre_match", "odds": odds})
    assert status == 200, answer
    fair_result = remove_margin([odds["home"], odds["draw"], odds["away"]], "power")
    fair_over = remove_margin([odds["over_2_5"], odds["under_2_5"]], "power")
    book_result = _fair(answer["book"], "match_result")
    assert [book_result[name] for name in ("home", "draw", "away")] == pytest.approx(fair_result, abs=1e-6)
    assert _fair(answer["book"], "total_goals", 2.5)["over"] == pytest.approx(fair_over[0], abs=1e-6)
    # ... through goal expectations and a rho the fixture now holds, and the audit keeps the odds as given
    assert float(_fixture_item(engine, fixture_id)["dixon_coles_rho"]["N"]) != pytest.approx(-0.10, abs=1e-3)
    calibrated = [a for a in _audit(engine, fixture_id, "applied") if "odds" in json.loads(a["command"]["S"])]
    assert [json.loads(a["command"]["S"])["odds"] for a in calibrated] == [odds]
    assert "dixon_coles_rho" in json.loads(calibrated[0]["after_state"]["S"])

    # When the feed then corrects the fixture, its goal expectations replace the trader's, rho with them
    created = match_events(fixture_id)[0]
    correction = dict(created, sequence=2, event_id=f"{fixture_id}-correction", home_goals_expected=1.3)
    assert engine.run(correction).kind == "applied"
    item = _fixture_item(engine, fixture_id)
    assert (float(item["home_goals_expected"]["N"]), "dixon_coles_rho" in item) == (1.3, False)

    # When the trader calibrates again, then gives goal expectations directly, the rho goes again
    status, answer = _command(gateway, token, fixture_id, {"command": "set_pre_match", "odds": odds})
    assert status == 200 and "dixon_coles_rho" in _fixture_item(engine, fixture_id), answer

    status, answer = _command(
        gateway, token, fixture_id, {"command": "set_pre_match", "home_goals_expected": 1.4, "away_goals_expected": 1.2}
    )
    assert status == 200, answer
    assert "dixon_coles_rho" not in _fixture_item(engine, fixture_id)
    assert len(_audit(engine, fixture_id, "applied")) == 4


@pytest.mark.parametrize(
    ("command", "words"),
    [
        # a home win at 1.01 against an away win at 300 cannot happen with about two goals in the match
        (
            {"command": "set_pre_match",
             "odds": {"home": 1.01, "draw": 200, "away": 300, "over_2_5": 3.0, "under_2_5": 1.4}},
            "odds.home, odds.draw, odds.away",
        ),
        # 2.6 goals between them and the home side 3 goals ahead: the away side would expect -0.2
        ({"command": "set_pre_match", "supremacy": 3.0, "total_goals_expected": 2.6}, "supremacy"),
        ({"command": "set_pre_match", "supremacy": 0.4}, "total_goals_expected"),
        # two forms at once: the schema lets it through (API Gateway could not say which field), the workflow names it
        ({"command": "set_pre_match", "supremacy": 0.4, "total_goals_expected": 2.6, "home_goals_expected": 1.0},
         "home_goals_expected"),
        ({"command": "set_pre_match", "odds": {"home": 2.1, "draw": 3.4, "away": 3.6, "over_2_5": 0.5,
          "under_2_5": 1.9}}, "odds.over_2_5"),
    ],
)  # fmt: skip
def test_pre_match_inputs_the_model_cannot_take_are_refused_naming_the_field(
    gateway: LocalGateway, engine: LocalEngine, token: str, command: dict[str, Any], words: str
) -> None:
    fixture_id = "E2E-TRADER-PRE-MATCH-REFUSED"
    if "revision" not in _fixture_item_or_empty(engine, fixture_id):
        _start_match(engine, fixture_id, through_sequence=1)
    before = _fixture_item_or_empty(engine, fixture_id)
    actions_before = _audit(engine, fixture_id)

    status, body = _command(gateway, token, fixture_id, command)

    assert status == 400, body
    assert words in body["message"], body
    assert _fixture_item_or_empty(engine, fixture_id) == before  # nothing applied...
    (refused,) = _audit(engine, fixture_id)[len(actions_before) :]  # ... and audited as refused, with why
    assert refused["outcome"] == {"S": "refused"} and words in refused["refusal"]["S"]


@pytest.mark.parametrize(
    ("fixture_id", "command", "status", "words"),
    [
        ("E2E-TRADER-ERRORS", {"command": "set_margin", "market_type": "match_result", "margin": 0.9}, 400, "margin"),
        ("E2E-TRADER-ERRORS", {"command": "suspend", "market_type": "darts"}, 400, "market_type"),
        ("E2E-TRADER-ERRORS", {"command": "explode"}, 400, "command"),
        (
            "E2E-TRADER-ERRORS",
            {"command": "set_pre_match", "home_goals_expected": 1.2, "away_goals_expected": 1.0},
            409,
            "before kick-off",
        ),
        ("E2E-NO-SUCH-FIXTURE", {"command": "suspend"}, 404, "fixture_id"),
        ("E2E-\"quoted'\\fixture", {"command": "suspend"}, 404, "fixture_id"),
    ],
)
def test_failures_map_to_http_statuses_naming_the_field(
    gateway: LocalGateway, engine: LocalEngine, token: str, fixture_id: str, command: dict, status: int, words: str
) -> None:
    if fixture_id == "E2E-TRADER-ERRORS" and "revision" not in _fixture_item_or_empty(engine, fixture_id):
        _start_match(engine, fixture_id, through_sequence=2)
    before = _fixture_item_or_empty(engine, fixture_id)

    answered, body = _command(gateway, token, fixture_id, command)

    assert answered == status, body
    assert words in json.dumps(body)
    assert _fixture_item_or_empty(engine, fixture_id) == before  # nothing applied


def _fixture_item_or_empty(engine: LocalEngine, fixture_id: str) -> dict[str, Any]:
    found = engine.client("dynamodb").get_item(
        TableName=engine.table_name("Fixtures"), Key={"fixture_id": {"S": fixture_id}}, ConsistentRead=True
    )
    return dict(found.get("Item", {}))


def test_a_realtime_session_attaches_the_price_feed_policy_to_the_callers_identity(
    gateway: LocalGateway, engine: LocalEngine, token: str
) -> None:
    # Given the identity pool and IoT policy as provisioned from the synthesized app (moto: GetId takes any token)
    policies = engine.client("iot").list_policies()["policies"]
    (price_feed,) = [p["policyName"] for p in policies if "PriceFeed" in p["policyName"]]
    # ... wired as in AWS: the function names the pool, and the pool's login provider, that moto's GetId ignores
    functions = engine.client("lambda").list_functions()["Functions"]
    (session,) = [f for f in functions if "StartRealtimeSession" in f["FunctionName"]]
    environment = session["Environment"]["Variables"]
    identity = engine.client("cognito-identity")
    (pool,) = identity.list_identity_pools(MaxResults=10)["IdentityPools"]
    (provider,) = identity.describe_identity_pool(IdentityPoolId=pool["IdentityPoolId"])["CognitoIdentityProviders"]
    assert environment["IDENTITY_POOL_ID"] == pool["IdentityPoolId"]
    assert environment["USER_POOL_PROVIDER_NAME"] == provider["ProviderName"]
    assert environment["PRICE_FEED_IOT_POLICY_NAME"] == price_feed

    # When a signed-in trader starts a realtime session, and when somebody who is not signed in tries
    status, answer = _call(gateway, "POST", "/realtime/session", {}, token=token)
    refused, _ = _call(gateway, "POST", "/realtime/session", {}, token="not-a-token")

    # Then the trader's own identity holds the read-only price-feed policy, and the stranger got nothing
    assert status == 200, answer
    attached = engine.client("iot").list_attached_policies(target=answer["identityId"])["policies"]
    assert [p["policyName"] for p in attached] == [price_feed]
    assert refused == 401


def test_service_clients_sign_with_sigv4(gateway: LocalGateway, engine: LocalEngine) -> None:
    fixture_id = "E2E-TRADER-SERVICE"
    _start_match(engine, fixture_id, through_sequence=2)
    url = f"{gateway.url}/v1/service/fixtures/{fixture_id}/commands"
    body = json.dumps({"command": "suspend"}).encode()
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials("local-engine", "local-engine"), "execute-api", "eu-west-1").add_auth(request)
    with urllib.request.urlopen(  # noqa: S310 - loopback only
        urllib.request.Request(url, data=body, method="POST", headers=dict(request.prepare().headers)), timeout=60
    ) as response:
        answer = json.loads(response.read())

    assert answer["book"]["status"] == "suspended"
    assert _fixture_item(engine, fixture_id)["trader_suspended"] == {"BOOL": True}


def test_queries_show_fixtures_state_book_and_history(gateway: LocalGateway, engine: LocalEngine, token: str) -> None:
    fixture_id = "E2E-QUERY"
    _start_match(engine, fixture_id, through_sequence=4)  # created, kick-off, clock, goal
    assert _command(gateway, token, fixture_id, {"command": "suspend", "market_type": "correct_score"})[0] == 200

    status, listing = _call(gateway, "GET", "/fixtures?limit=100", token=token)
    assert status == 200
    (summary,) = [f for f in listing["fixtures"] if f["fixture_id"] == fixture_id]
    assert summary["score"] == {"home": 1, "away": 0} and summary["phase"] == "in_play"

    status, detail = _call(gateway, "GET", f"/fixtures/{fixture_id}", token=token)
    assert status == 200
    assert detail["fixture"]["trading"]["suspended_market_types"] == ["correct_score"]
    assert detail["book"]["revision"] == detail["fixture"]["revision"] == 5

    # History: five books (4 feed events, 1 command), newest first, two pages of 3 and 2
    status, first = _call(gateway, "GET", f"/fixtures/{fixture_id}/prices?limit=3", token=token)
    assert status == 200 and first["next_token"]
    status, second = _call(
        gateway, "GET", f"/fixtures/{fixture_id}/prices?limit=3&next_token={first['next_token']}", token=token
    )
    assert [b["revision"] for b in first["books"] + second["books"]] == [5, 4, 3, 2, 1]
    assert second["next_token"] is None

    assert _call(gateway, "GET", f"/fixtures/{fixture_id}/prices?limit=0", token=token)[1]["field"] == "limit"
    assert _call(gateway, "GET", "/fixtures/E2E-NOBODY", token=token)[0] == 404
    assert _call(gateway, "GET", "/fixtures", token=None)[0] == 401


def test_a_command_whose_write_answer_was_lost_is_applied_once(
    gateway: LocalGateway, engine: LocalEngine, token: str
) -> None:
    # Given a fixture in play, and the command's guarded write going through but timing out (the ambiguous fault:
    # Step Functions retries it, and the guard refuses the retry because the first write moved the revision on)
    fixture_id = "E2E-TRADER-LOST-WRITE"
    _start_match(engine, fixture_id, through_sequence=3)
    before = _fixture_item(engine, fixture_id)
    plan = FaultPlan(
        targets={"dynamodb": FaultSpec(1.0, kinds=("timeout",), states=("WriteFixture",), failing_attempts=1)}
    )

    # When the trader suspends the fixture
    with plan.active():
        status, answer = _command(gateway, token, fixture_id, {"command": "suspend"})

    # Then the workflow recognises its own write: applied once (one revision, not two), answered with its book
    assert status == 200, answer
    assert answer["revision"] == int(before["revision"]["N"]) + 1
    assert int(_fixture_item(engine, fixture_id)["revision"]["N"]) == answer["revision"]
    # And the audit holds the command once: requested with the state it was applied to, then applied
    requested, applied = _audit(engine, fixture_id)
    assert (requested["outcome"], applied["outcome"]) == ({"S": "requested"}, {"S": "applied"})
    assert json.loads(requested["before"]["S"])["revision"] == int(before["revision"]["N"])
    assert json.loads(applied["after_state"]["S"])["trader_suspended"] is True


@pytest.mark.parametrize(
    ("override", "field", "reason"),
    [
        (
            {"market_type": "match_result", "selection": "hoem"},
            "selection",
            "match_result has no selection hoem in the current book",
        ),
        ({"market_type": "total_goals", "selection": "over"}, "line", "total_goals markets need a line"),
        (
            {"market_type": "match_result", "line": 2.5, "selection": "home"},
            "line",
            "match_result markets have no line",
        ),
        (
            {"market_type": "team_total", "line": 1.5, "selection": "over"},
            "selection",
            "team_total has no selection over in the current book",
        ),
    ],
)
def test_an_override_no_book_can_carry_is_refused_naming_the_field(
    gateway: LocalGateway, engine: LocalEngine, token: str, override: dict[str, Any], field: str, reason: str
) -> None:
    # Given a fixture in play
    fixture_id = "E2E-TRADER-BAD-OVERRIDE"
    if "Item" not in engine.client("dynamodb").get_item(
        TableName=engine.table_name("Fixtures"), Key={"fixture_id": {"S": fixture_id}}
    ):
        _start_match(engine, fixture_id, through_sequence=3)
    before = _fixture_item(engine, fixture_id)
    actions = [a for a in _audit(engine, fixture_id) if a["outcome"]["S"] != "refused"]

    # When the trader overrides a selection, or a line, its market type does not have
    status, answer = _command(
        gateway, token, fixture_id, {"command": "override_price", "price": 2.5, "for_seconds": 60, **override}
    )

    # Then it is a 400 naming the field, and nothing is written or audited but the refusal (it used to be stored
    # and never priced)
    assert status == 400
    assert (answer["message"], answer["field"]) == (f"{field}: {reason}", field)
    assert _fixture_item(engine, fixture_id) == before
    assert [a for a in _audit(engine, fixture_id) if a["outcome"]["S"] != "refused"] == actions


def test_one_line_of_a_market_type_is_suspended_and_resumed(
    gateway: LocalGateway, engine: LocalEngine, token: str
) -> None:
    # Given a fixture in play
    fixture_id = "E2E-TRADER-ONE-LINE"
    _start_match(engine, fixture_id, through_sequence=3)

    # When the trader suspends the 2 goals line, written as a whole number
    status, answer = _command(
        gateway, token, fixture_id, {"command": "suspend", "market_type": "total_goals", "line": 2}
    )

    # Then that one market is suspended in the answer's book, the other total lines still trade
    assert status == 200, answer
    suspended = {(m["type"], m["line"]) for m in answer["book"]["markets"] if m["status"] == "suspended"}
    assert suspended == {("total_goals", 2.0)}
    assert {m["status"] for m in _market(answer["book"], "total_goals") if m["line"] != 2.0} == {"open"}
    assert _fixture_item(engine, fixture_id)["suspended_markets"] == {"SS": ["total_goals#2.0"]}
    status, detail = _call(gateway, "GET", f"/fixtures/{fixture_id}", token=token)
    assert detail["fixture"]["trading"]["suspended_markets"] == [{"market_type": "total_goals", "line": 2.0}]

    # And a resume written as 2.0 finds it: nothing is left suspended
    status, resumed = _command(
        gateway, token, fixture_id, {"command": "resume", "market_type": "total_goals", "line": 2.0}
    )
    assert status == 200, resumed
    assert "suspended" not in {m["status"] for m in resumed["book"]["markets"]}
    assert "suspended_markets" not in _fixture_item(engine, fixture_id)


def test_a_refused_command_is_audited_with_who_what_and_why(
    gateway: LocalGateway, engine: LocalEngine, token: str
) -> None:
    # Given no fixture with this id
    fixture_id = "E2E-TRADER-REFUSED-AUDIT"

    # When a trader tries to suspend it, and to widen a margin past the limit
    assert _command(gateway, token, fixture_id, {"command": "suspend"})[0] == 404
    bad_margin = {"command": "set_margin", "market_type": "match_result", "margin": 0.9}
    assert _command(gateway, token, fixture_id, bad_margin)[0] == 400

    # Then both attempts are audited, refused, with the trader, the command and the answer's error and cause
    attempts = _audit(engine, fixture_id)
    assert [a["outcome"]["S"] for a in attempts] == ["refused", "refused"]
    assert [json.loads(a["actor"]["S"])["username"] for a in attempts] == ["alice", "alice"]
    assert [json.loads(a["command"]["S"]) for a in attempts] == [{"command": "suspend"}, bad_margin]
    not_found, invalid = (json.loads(a["refusal"]["S"]) for a in attempts)
    assert not_found["error"] == "FixtureNotFound" and not_found["cause"].startswith("fixture_id:")
    assert invalid["error"] == "InvalidCommand" and invalid["cause"].startswith("margin:")
    # And nothing else was written for it
    assert _fixture_item_or_empty(engine, fixture_id) == {}
