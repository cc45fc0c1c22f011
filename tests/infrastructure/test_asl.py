"""Checks on every workflow definition in statemachines/, against the file and the synthesized template."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from lambdas.domain.trader_rules import MAX_COMMAND_ATTEMPTS
from lambdas.logic.feed_task import MAX_WRITE_ATTEMPTS
from stacks.constants import STATE_MACHINES_DIR
from tests.synth import SynthesizedApp

DEFINITIONS = sorted(STATE_MACHINES_DIR.glob("*.asl.json"))
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")


def _all_states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state, including those inside Parallel branches and Map iterators."""
    states = dict(definition["States"])
    for state in definition["States"].values():
        for branch in state.get("Branches", []):
            states.update(_all_states(branch))
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                states.update(_all_states(state[key]))
    return states


def _transitions(state: dict[str, Any]) -> list[str]:
    targets = [state.get("Next"), state.get("Default")]
    targets += [choice.get("Next") for choice in state.get("Choices", [])]
    targets += [catch["Next"] for catch in state.get("Catch", [])]
    return [t for t in targets if t]


def _machine_for(app: SynthesizedApp, definition_file: Path) -> dict[str, Any]:
    """The synthesized state machine whose construct loads this file (its id is the file's name in CamelCase)."""
    construct_id = "".join(part.capitalize() for part in definition_file.name.removesuffix(".asl.json").split("_"))
    matches = [
        resource
        for logical_id, resource in app.resources("AWS::StepFunctions::StateMachine").items()
        if construct_id in logical_id
    ]
    assert len(matches) == 1, f"expected one state machine for {definition_file.name}"
    return matches[0]


def test_every_definition_file_is_deployed(dev_app: SynthesizedApp) -> None:
    # Given the definition files and the synthesized state machines
    machines = dev_app.resources("AWS::StepFunctions::StateMachine")

    # Then there is one machine per file
    assert DEFINITIONS and len(machines) == len(DEFINITIONS)


@pytest.mark.parametrize("definition_file", DEFINITIONS, ids=lambda p: p.name)
def test_every_transition_targets_an_existing_state(definition_file: Path) -> None:
    # Given a definition
    definition = json.loads(definition_file.read_text())
    states = _all_states(definition)

    # Then StartAt and every Next, Default and Catch target names a state
    assert definition["StartAt"] in states
    missing = {
        (name, target) for name, state in states.items() for target in _transitions(state) if target not in states
    }
    assert missing == set()


@pytest.mark.parametrize("definition_file", DEFINITIONS, ids=lambda p: p.name)
def test_every_state_is_reachable(definition_file: Path) -> None:
    # Given a definition
    definition = json.loads(definition_file.read_text())
    states = definition["States"]

    # When the transitions are followed from StartAt
    reached, frontier = set(), [definition["StartAt"]]
    while frontier:
        name = frontier.pop()
        if name not in reached:
            reached.add(name)
            frontier.extend(_transitions(states[name]))

    # Then no state is dead
    assert set(states) - reached == set()


@pytest.mark.parametrize("definition_file", DEFINITIONS, ids=lambda p: p.name)
def test_every_task_has_a_catch_or_is_the_quarantine(definition_file: Path) -> None:
    # Given a definition's Task states
    tasks = {n: s for n, s in _all_states(json.loads(definition_file.read_text())).items() if s["Type"] == "Task"}

    # Then each catches everything (so the event is quarantined), except the quarantine itself, which retries
    for name, task in tasks.items():
        if name == "QuarantineEvent":
            assert task["Retry"][0]["ErrorEquals"] == ["States.ALL"]
            continue
        caught = {error for catch in task.get("Catch", []) for error in catch["ErrorEquals"]}
        assert "States.ALL" in caught, f"{name} has no catch-all"


@pytest.mark.parametrize("definition_file", DEFINITIONS, ids=lambda p: p.name)
def test_retries_back_off_with_jitter(definition_file: Path) -> None:
    # Given every Retry of every Task
    tasks = [s for s in _all_states(json.loads(definition_file.read_text())).values() if s["Type"] == "Task"]
    retries = [retry for task in tasks for retry in task.get("Retry", [])]

    # Then each backs off exponentially with full jitter and a cap
    assert retries
    for retry in retries:
        assert retry["BackoffRate"] >= 2 and retry["JitterStrategy"] == "FULL" and "MaxDelaySeconds" in retry


@pytest.mark.parametrize("definition_file", DEFINITIONS, ids=lambda p: p.name)
def test_placeholders_equal_the_substitution_keys(definition_file: Path, dev_app: SynthesizedApp) -> None:
    # Given the placeholders in the file and the substitutions of the synthesized machine
    placeholders = set(_PLACEHOLDER.findall(definition_file.read_text()))
    substitutions = set(_machine_for(dev_app, definition_file)["Properties"]["DefinitionSubstitutions"])

    # Then they are the same set
    assert placeholders and placeholders == substitutions


@pytest.mark.parametrize("definition_file", DEFINITIONS, ids=lambda p: p.name)
def test_template_definition_equals_the_file_after_substitution(definition_file: Path, dev_app: SynthesizedApp) -> None:
    # Given the synthesized definition and its substitutions, and a stand-in value for each placeholder
    properties = _machine_for(dev_app, definition_file)["Properties"]
    stand_ins = {key: f"<{key}>" for key in properties["DefinitionSubstitutions"]}

    # When both the template's definition and the file are substituted the same way
    def substituted(text: str) -> dict[str, Any]:
        return json.loads(_PLACEHOLDER.sub(lambda m: stand_ins[m.group(1)], text))

    # Then the deployed definition is the file, state for state, and every substitution has a value
    assert substituted(properties["DefinitionString"]) == substituted(definition_file.read_text())
    assert all(properties["DefinitionSubstitutions"].values())


def _worst_case_seconds(task: dict[str, Any]) -> float:
    """A task's longest run: every attempt timing out, with the longest back-off between them."""
    retries = task.get("Retry", [])
    attempts = 1 + sum(retry.get("MaxAttempts", 3) for retry in retries)
    backoff = sum(
        min(
            retry.get("IntervalSeconds", 1) * retry.get("BackoffRate", 2.0) ** attempt,
            retry.get("MaxDelaySeconds", float("inf")),
        )
        for retry in retries
        for attempt in range(retry.get("MaxAttempts", 3))
    )
    return attempts * task["TimeoutSeconds"] + backoff


@pytest.mark.parametrize("definition_file", DEFINITIONS, ids=lambda p: p.name)
def test_every_task_has_a_timeout(definition_file: Path) -> None:
    # Given every Task state (without one, a task may wait for Step Functions' default of 99,999,999 s)
    tasks = {n: s for n, s in _all_states(json.loads(definition_file.read_text())).items() if s["Type"] == "Task"}

    # Then each has its own timeout
    assert all("TimeoutSeconds" in task for task in tasks.values()), sorted(
        n for n, t in tasks.items() if "TimeoutSeconds" not in t
    )


# Asynchronous workflows must quarantine before they time out, or the event is lost. A synchronous one (trader
# commands) answers its caller instead: a timeout is a 504 and the audit shows what was applied.
QUARANTINING = [path for path in DEFINITIONS if '"QuarantineEvent"' in path.read_text()]


@pytest.mark.parametrize("definition_file", QUARANTINING, ids=lambda p: p.name)
def test_the_slowest_path_still_reaches_the_quarantine_before_the_execution_times_out(definition_file: Path) -> None:
    # Given the definition's graph, each Task weighted by its worst case (all attempts time out), the DecideAgain
    # loop as often as the core allows (worst_path_seconds)
    definition = json.loads(definition_file.read_text())

    # When the longest path from the start is added up
    worst = worst_path_seconds(definition, write_attempts=MAX_WRITE_ATTEMPTS)

    # Then even that path ends inside the execution's timeout: a timed-out execution would quarantine nothing
    assert worst <= definition["TimeoutSeconds"], f"worst case {worst:.0f} s > {definition['TimeoutSeconds']} s"
    assert definition["TimeoutSeconds"] <= 300  # the Express maximum (5 minutes)


def test_pricing_lambda_times_out_before_its_task(dev_app: SynthesizedApp) -> None:
    # Given the feed task's function timeout and the workflow task that calls it
    definition = json.loads((STATE_MACHINES_DIR / "feed_event.asl.json").read_text())
    task_timeout = definition["States"]["DecideAndPrice"]["TimeoutSeconds"]
    (function,) = [f for k, f in dev_app.resources("AWS::Lambda::Function").items() if "ApplyFeedEvent" in k]

    # Then the function gives up first, so a retried task never runs beside its own timed-out attempt
    assert function["Properties"]["Timeout"] < task_timeout


# The workflows orchestrate; the domain core (lambdas/domain) decides. What a definition may still test or guard:
# the core's route, and the mechanics of the write (the revision it was decided on), the publication claim and
# the append-only audit.
MAX_STATES = 20
ROUTE_VARIABLE = "$.decision.answer.route"
MECHANICAL_CONDITIONS = {
    "attribute_not_exists(action_id)",
    "attribute_not_exists(published_revision) OR published_revision < :revision"
    " OR (published_revision = :revision AND published_by = :execution)",
    "published_revision = :revision AND published_by = :execution",
}


@pytest.mark.parametrize("definition_file", DEFINITIONS, ids=lambda p: p.name)
def test_a_workflow_has_few_states_and_no_business_rule(definition_file: Path) -> None:
    # Given every state of the definition
    states = _all_states(json.loads(definition_file.read_text()))

    # Then there are at most MAX_STATES, every Choice routes on the core's answer alone, no Pass state computes a
    # result of its own (Parameters only copy paths), and every condition expression is mechanical: a fixture
    # write's condition comes from the core's answer, the others are the claim and the audit's guards
    assert len(states) <= MAX_STATES, sorted(states)
    for name, state in states.items():
        if state["Type"] == "Choice":
            variables = {choice["Variable"] for choice in state["Choices"]}
            assert variables == {ROUTE_VARIABLE}, (name, variables)
            assert all(set(choice) == {"Variable", "StringEquals", "Next"} for choice in state["Choices"]), name
        if state["Type"] == "Pass":
            assert "Result" not in state, name
            computed = [
                k
                for k, v in state.get("Parameters", {}).items()
                if not k.endswith(".$") and v != 0 and v is not True and v is not False
            ]
            assert not computed, (name, computed)
        condition = state.get("Parameters", {}).get("ConditionExpression")
        if condition is not None:
            assert condition in MECHANICAL_CONDITIONS, (name, condition)
        if "ConditionExpression.$" in state.get("Parameters", {}):
            assert state["Parameters"]["ConditionExpression.$"] == "$.decision.answer.write.condition", name


# Both workflows answer a synchronous API (StartSyncExecution behind API Gateway, whose integration timeout is 29 s).
API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS = 29
SYNCHRONOUS_BUDGET_SECONDS = 25  # the slowest path must end inside this, leaving the API its own few seconds
# How often each workflow's fixture write may lose the race before the core refuses to write again (the DecideAgain
# loop): feed events quarantine as WriteContention, trader commands are refused as ConflictingUpdate.
WRITE_ATTEMPTS = {"feed_event.asl.json": MAX_WRITE_ATTEMPTS, "trader_command.asl.json": MAX_COMMAND_ATTEMPTS}
_BUDGET_GAP = (
    "the slowest path does not fit yet: with every attempt timing out and the DecideAgain loop at its bound "
    "(MAX_WRITE_ATTEMPTS / MAX_COMMAND_ATTEMPTS, lambdas/), the retry budgets need a decision (see issue 18)"
)


def worst_path_seconds(definition: dict[str, Any], write_attempts: int) -> float:
    """The longest run from StartAt to an end: each Task at its worst (every attempt timing out, the longest back-off
    between them), the DecideAgain loop taken as often as the core allows.

    The state that catches ConditionalCheckFailedException into DecideAgain (WriteFixture) runs at most
    ``write_attempts`` times: the decision after the last lost race may still route on (a republish of a write whose
    answer was lost, or a refusal), so the deciding task runs once more than the write.
    """
    states = definition["States"]
    writers = {
        name for name, state in states.items() if any(c["Next"] == "DecideAgain" for c in state.get("Catch", []))
    }
    assert writers, "no DecideAgain loop: the model below would not bound anything"

    def longest_from(name: str, visits: tuple[str, ...]) -> float:
        if name in writers and visits.count(name) >= write_attempts:
            return float("-inf")  # a write the core does not allow
        assert visits.count(name) <= write_attempts + 1, f"cycle through {name}: the budget would be unbounded"
        state = states[name]
        own = _worst_case_seconds(state) if state["Type"] == "Task" else 0.0
        following = [longest_from(target, (*visits, name)) for target in _transitions(state)]
        return own + max(following, default=0.0)

    return longest_from(definition["StartAt"], ())


def test_the_worst_case_model_counts_each_timed_out_attempt_and_the_loop() -> None:
    # Given a two-task workflow whose write loops back through DecideAgain, each task 1 s a try, retried once after 1 s
    retry = [{"ErrorEquals": ["States.Timeout"], "MaxAttempts": 1, "IntervalSeconds": 1, "BackoffRate": 2}]
    task = {"Type": "Task", "TimeoutSeconds": 1, "Retry": retry}
    definition = {
        "StartAt": "Decide",
        "States": {
            "Decide": {**task, "Next": "Write"},
            "Write": {**task, "Catch": [{"ErrorEquals": ["X"], "Next": "DecideAgain"}], "Next": "Done"},
            "DecideAgain": {"Type": "Pass", "Next": "Decide"},
            "Done": {"Type": "Succeed"},
        },
    }

    # When the worst case is computed for two write attempts
    worst = worst_path_seconds(definition, write_attempts=2)

    # Then it is two decisions and two writes (the second write ends the run), each 1 + 1 + 1 s (two attempts, one
    # back-off); a third decision would need a third write, which the core refuses
    assert worst == 4 * 3


@pytest.mark.parametrize("definition_file", DEFINITIONS, ids=lambda p: p.name)
@pytest.mark.xfail(strict=True, reason=_BUDGET_GAP)
def test_a_synchronous_workflow_ends_its_slowest_path_inside_the_api_budget(definition_file: Path) -> None:
    # Given a workflow behind a synchronous API, its slowest path computed from its Retry and TimeoutSeconds
    definition = json.loads(definition_file.read_text())
    worst = worst_path_seconds(definition, WRITE_ATTEMPTS[definition_file.name])

    # Then it ends (quarantined or answered) well inside API Gateway's 29 s, and the execution's own timeout is under
    # 29 s too, so that even an execution slower than its model answers (TIMED_OUT: 503 or 504) before the API does
    assert worst < SYNCHRONOUS_BUDGET_SECONDS, f"worst case {worst:.0f} s"
    assert definition["TimeoutSeconds"] < API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS
