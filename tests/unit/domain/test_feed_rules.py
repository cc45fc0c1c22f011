"""The feed rules, case by case: each hostile-feed finding of the review, and each cell of the transition table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lambdas.domain.feed_rules import decide_feed_event
from lambdas.domain.fixture import MAX_COUNTED_INCIDENTS, RECENT_EVENTS_KEPT, FeedState, PhaseChange, RecordedEvent
from lambdas.domain.match_phases import PERIODS, TRANSITIONS, refusal_for, transition_table_markdown
from tests.unit.domain.feeds import NOW, card, clock, created, event, goal, phase, play, whole_match

DOCS = Path(__file__).resolve().parents[3] / "docs"


def _in_play(first_half: bool = True) -> FeedState:
    state, _ = play(whole_match()[:2] if first_half else whole_match()[:5])
    assert state is not None
    return state


# --- The review's findings -------------------------------------------------------------------------------------


def test_an_older_goal_before_kick_off_is_never_counted() -> None:
    # Given fixture_created seq 10, then a goal seq 5, then kick_off seq 11
    state, decisions = play([created(10), goal(5), phase(11, "kick_off")])

    # Then the goal is refused as not in play (the fixture was pre-match at its sequence), and kick-off is at 0-0
    assert decisions[1].outcome == "illegal_transition"
    assert (decisions[1].error, decisions[1].period) == ("NotInPlay", "pre_match")
    assert state is not None and (state.home_score, state.away_score) == (0, 0)

    # When the quarantined goal is redriven later, in play
    redrive = decide_feed_event(state, goal(5), now=NOW)

    # Then it is refused again, never skipped as a duplicate
    assert redrive.outcome == "illegal_transition" and redrive.error == "NotInPlay"


@pytest.mark.parametrize(
    ("feed", "refused_type", "period"),
    [
        ([*whole_match(), phase(20, "kick_off")], "kick_off", "full_time"),
        ([created(1), phase(2, "full_time")], "full_time", "pre_match"),
        ([created(1), phase(2, "second_half_kick_off")], "second_half_kick_off", "pre_match"),
        ([created(1), phase(2, "half_time")], "half_time", "pre_match"),
        ([created(1), phase(2, "kick_off"), phase(3, "kick_off")], "kick_off", "first_half"),
        ([*whole_match(), goal(20)], "goal", "full_time"),
        ([*whole_match(), created(20)], "fixture_created", "full_time"),
    ],
)
def test_a_phase_event_out_of_its_place_is_refused(feed: list[dict[str, Any]], refused_type: str, period: str) -> None:
    # Given a feed whose last event is illegal where it arrives
    before, _ = play(feed[:-1])

    # When it is decided
    state, decisions = play(feed[-1:], before)

    # Then it is refused with the period, and the fixture is unchanged
    assert decisions[0].outcome == "illegal_transition"
    assert decisions[0].period == period
    assert decisions[0].error == TRANSITIONS[refused_type].refusal
    assert state == before


def test_a_finished_match_is_not_reopened_and_its_markets_stay_closed() -> None:
    # Given a finished match
    finished, _ = play(whole_match())

    # When a kick-off, a clock tick and a goal follow with newer sequences
    state, decisions = play([phase(20, "kick_off"), clock(21, 5), goal(22)], finished)

    # Then none is applied: full time, the final score, result revision 1
    assert [d.outcome for d in decisions] == ["illegal_transition"] * 3
    assert state is not None and state.match_period == "full_time"
    assert (state.home_score, state.away_score, state.result_revision) == (1, 1, 1)


def test_a_late_goal_after_full_time_corrects_the_result() -> None:
    # Given a match that finished 1-1, sequence 7 (a second-half goal) not delivered
    finished, _ = play([*whole_match()[:5], clock(6, 60), goal(8, "away", 70), phase(9, "full_time")])
    assert finished is not None and (finished.home_score, finished.away_score, finished.result_revision) == (1, 1, 1)

    # When the home goal with sequence 7 (in the second half, in play then) arrives after full time
    state, decisions = play([goal(7, "home", 65)], finished)

    # Then it is counted late as a correction of the result: 2-1, result revision 2, still full time
    assert decisions[0].outcome == "late_counted" and decisions[0].corrected_result
    assert state is not None and (state.home_score, state.away_score) == (2, 1)
    assert (state.result_revision, state.match_period) == (2, "full_time")


def test_a_late_goal_in_play_is_counted_once_and_moves_nothing_else() -> None:
    # Given a match in play at minute 30 after a clock tick (seq 4), goal seq 3 not delivered yet
    before, _ = play([created(1), phase(2, "kick_off"), clock(4, 30)])

    # When goal 3 arrives, then again
    state, decisions = play([goal(3, minute=25), goal(3, minute=25)], before)

    # Then it is counted once (late), the clock stays at 30 and the markets stay open; the copy is a duplicate
    assert [d.outcome for d in decisions] == ["late_counted", "duplicate"]
    assert state is not None and state.home_score == 1
    assert (state.match_minute, state.suspension_reason, state.last_sequence) == (30, None, 4)
    assert not decisions[0].corrected_result


def test_a_late_goal_while_the_match_was_at_half_time_is_not_in_play() -> None:
    # Given a match in the second half: half time at sequence 4, the second half from 6, sequence 5 undelivered
    state, _ = play([created(1), phase(2, "kick_off"), phase(4, "half_time"), phase(6, "second_half_kick_off")])

    # When a goal with sequence 5 (during half time) arrives
    decision = decide_feed_event(state, goal(5, minute=45), now=NOW)

    # Then it is not in play: the fixture was at half time at its sequence
    assert (decision.outcome, decision.error, decision.period) == ("illegal_transition", "NotInPlay", "half_time")


def test_an_event_reusing_a_phase_change_sequence_is_a_conflict_with_the_original() -> None:
    # Given a match in the second half (half time was sequence 4)
    state = _in_play(first_half=False)

    # When a goal carrying half time's sequence arrives
    collision = decide_feed_event(state, goal(4), now=NOW)

    # Then it is a conflict naming the sequence, with the original event
    assert collision.outcome == "conflict" and collision.field == "sequence"
    assert collision.original is not None and collision.original.event_id == "opta-0004"


def test_a_late_card_counts_the_colour_it_carries() -> None:
    # Given a match in play with a clock tick at seq 10
    before, _ = play([created(1), phase(2, "kick_off"), clock(10, 30)])

    # When a red card (seq 5) and a yellow card (seq 6) arrive late
    state, _ = play([card(5, "red", "away", 20), card(6, "yellow", "home", 22)], before)

    # Then each counter moved once
    assert state is not None
    assert (state.away_red_cards, state.home_yellow_cards, state.home_red_cards) == (1, 1, 0)


def test_the_same_sequence_with_other_content_is_a_conflict() -> None:
    # Given a goal applied at sequence 3
    before, _ = play([created(1), phase(2, "kick_off"), goal(3, "home", 10)])

    # When sequence 3 comes again as an away goal under the same event id
    decision = decide_feed_event(before, goal(3, "away", 10), now=NOW)

    # Then it is a ConflictingDuplicate on the sequence, with the original's id and digest, and nothing changes
    assert (decision.outcome, decision.error, decision.field) == ("conflict", "ConflictingDuplicate", "sequence")
    assert decision.original is not None and decision.original.sequence == 3
    assert decision.state == before


def test_the_same_event_id_under_a_new_sequence_is_a_conflict_not_a_second_goal() -> None:
    # Given a goal applied as opta-0003
    before, _ = play([created(1), phase(2, "kick_off"), goal(3)])

    # When the same event id comes under sequence 9
    state, decisions = play([goal(9, event_id="opta-0003")], before)

    # Then it is a conflict naming event_id, and the score is still 1-0
    assert (decisions[0].outcome, decisions[0].field) == ("conflict", "event_id")
    assert state is not None and state.home_score == 1


def test_an_exact_redelivery_is_a_duplicate_and_republished_only_if_its_book_never_went_out() -> None:
    # Given a kick-off applied but not yet published
    created_state, _ = play([created(1)])
    kick_off = decide_feed_event(created_state, phase(2, "kick_off"), now=NOW)
    assert kick_off.state is not None

    # When it is delivered again, before and after its publication claim
    unpublished = decide_feed_event(kick_off.state, phase(2, "kick_off"), now=NOW)
    published_state = kick_off.state.model_copy(update={"published_revision": kick_off.state.revision})
    published = decide_feed_event(published_state, phase(2, "kick_off"), now=NOW)

    # Then both are duplicates; only the first asks for the book to be published again
    assert (unpublished.outcome, unpublished.republish) == ("duplicate", True)
    assert (published.outcome, published.republish) == ("duplicate", False)


def test_a_redelivery_of_an_older_event_is_not_republished() -> None:
    # Given a match with a newer unpublished write
    state, _ = play([created(1), phase(2, "kick_off")])
    assert state is not None
    unpublished = state.model_copy(update={"published_revision": 1})

    # When the creation (not the newest) is delivered again
    decision = decide_feed_event(unpublished, created(1), now=NOW)

    # Then it is a plain duplicate
    assert (decision.outcome, decision.republish) == ("duplicate", False)


def test_an_overtaken_clock_tick_is_stale() -> None:
    # Given a clock tick at seq 5 applied
    before, _ = play([created(1), phase(2, "kick_off"), clock(5, 12)])

    # When an older tick (seq 4) arrives
    decision = decide_feed_event(before, clock(4, 11), now=NOW)

    # Then it is stale and changes nothing
    assert decision.outcome == "stale" and decision.state == before


def test_an_old_event_forgotten_by_the_window_is_stale_not_a_conflict() -> None:
    # Given more clock ticks than the fixture remembers
    ticks = [clock(3 + n, 1 + n // 2) for n in range(RECENT_EVENTS_KEPT + 2)]
    state, _ = play([created(1), phase(2, "kick_off"), *ticks])
    assert state is not None and len(state.recent_events) == RECENT_EVENTS_KEPT

    # When the first tick comes again with other content
    decision = decide_feed_event(state, clock(3, 40), now=NOW)

    # Then it is stale (the fixture cannot tell it from a redelivery any more)
    assert decision.outcome == "stale"


def test_an_item_written_without_a_record_of_its_newest_event_is_stale_on_that_sequence() -> None:
    # Given a state whose newest sequence is not in its ledger (written before the ledger existed)
    state, _ = play([created(1), phase(2, "kick_off")])
    assert state is not None
    bare = state.model_copy(update={"recent_events": ()})

    # When an event with that sequence arrives
    decision = decide_feed_event(bare, clock(2, 1), now=NOW)

    # Then it is stale
    assert decision.outcome == "stale"


def test_goals_and_cards_are_bounded_per_fixture() -> None:
    # Given a fixture with the maximum of counted goals and cards
    state = _in_play()
    full = state.model_copy(
        update={
            "counted_incidents": tuple(
                RecordedEvent(sequence=1000 + n, event_id=f"x{n}", digest="0" * 16, revision=3)
                for n in range(MAX_COUNTED_INCIDENTS)
            ),
            "last_sequence": 2000,
        }
    )

    # When one more goal arrives, newer and older
    newer = decide_feed_event(full, goal(2001), now=NOW)
    older = decide_feed_event(full, goal(5), now=NOW)

    # Then both are refused naming the limit
    for decision in (newer, older):
        assert decision.outcome == "invalid" and decision.field == "type"
        assert str(MAX_COUNTED_INCIDENTS) in str(decision.reason)


def test_fixture_created_corrects_a_pre_match_fixture_and_drops_the_calibration() -> None:
    # Given a created fixture a trader calibrated
    state, _ = play([created(1)])
    assert state is not None
    calibrated = state.model_copy(update={"dixon_coles_rho": -0.1})

    # When a correction arrives
    corrected, decisions = play([created(2, home_team="Arsenal FC", home_goals_expected=2.0)], calibrated)

    # Then the details change and the calibration is dropped
    assert decisions[0].outcome == "applied"
    assert corrected is not None and (corrected.home_team, corrected.home_goals_expected) == ("Arsenal FC", 2.0)
    assert corrected.dixon_coles_rho is None


def test_an_event_for_another_fixture_than_the_state_is_invalid() -> None:
    # Given a fixture's state
    state = _in_play()

    # When an event of another fixture is decided against it
    decision = decide_feed_event(state, clock(9, 5) | {"fixture_id": "OTHER"}, now=NOW)

    # Then it is invalid on fixture_id
    assert decision.outcome == "invalid" and decision.field == "fixture_id"


def test_an_event_before_its_fixture_exists_is_an_unknown_fixture() -> None:
    # When a goal arrives for a fixture that does not exist
    decision = decide_feed_event(None, goal(3), now=NOW)

    # Then it is refused as UnknownFixture, period none
    assert (decision.outcome, decision.error, decision.period) == ("illegal_transition", "UnknownFixture", "none")


def test_a_goal_older_than_the_fixture_itself_is_not_in_play() -> None:
    # Given a fixture created at sequence 10 and kicked off
    state, _ = play([created(10), phase(11, "kick_off")])

    # When a goal of sequence 3 arrives
    decision = decide_feed_event(state, goal(3), now=NOW)

    # Then it is NotInPlay, as before kick-off
    assert (decision.error, decision.period) == ("NotInPlay", "pre_match")


# --- Events the model refuses: named field and reason, nothing applied ------------------------------------------


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ([1, 2], "event"),
        ({}, "type"),
        (event(3, "corner_kick"), "type"),
        (goal(3) | {"minute": 121}, "minute"),
        (goal(3) | {"team": None}, "team"),
        (goal(3) | {"fixture_id": "EPL-2026-ARS-CHE\n"}, "fixture_id"),
        (goal(3) | {"occurred_at": "0001-01-01T00:00:00+14:00"}, "occurred_at"),
        (goal(3) | {"occurred_at": "1970-01-01T00:00:00Z"}, "occurred_at"),
        (goal(3) | {"occurred_at": "2030-01-01T00:00:00Z"}, "occurred_at"),
        (created(3, kick_off_at="2099-01-01T00:00:00Z"), "kick_off_at"),
        (created(3, home_team="x" * 100_000), "home_team"),
        (created(3, home_team="\ud800"), "home_team"),
        (created(3, home_goals_expected=float("nan")), "home_goals_expected"),
        (created(3, home_goals_expected=float("inf")), "home_goals_expected"),
        (goal(3) | {"extra": {"deep": [[[[[[1]]]]]]}}, "extra"),
        (goal(3) | {"sequence": 2**53}, "sequence"),
    ],
)
def test_a_malformed_event_is_refused_naming_the_field(raw: Any, field: str) -> None:
    # Given a fixture in play
    state = _in_play()

    # When the malformed event is decided
    decision = decide_feed_event(state, raw, now=NOW)

    # Then it is invalid (MalformedEvent) naming the field, with a reason, and nothing is written
    assert (decision.outcome, decision.error, decision.field) == ("invalid", "MalformedEvent", field)
    assert decision.reason and decision.cause.startswith(f"{field}: ")
    assert decision.state == state and not decision.writes


@pytest.mark.parametrize(
    ("first_half", "minute"),
    [(True, 46), (True, 90), (False, 44), (False, 0)],
)
def test_a_minute_outside_its_half_is_refused(first_half: bool, minute: int) -> None:
    # Given a fixture in the first or second half
    state = _in_play(first_half)

    # When a clock tick or a goal names a minute outside that half
    for raw in (clock(40, minute), goal(40, minute=minute)):
        decision = decide_feed_event(state, raw, now=NOW)

        # Then it is invalid on minute
        assert (decision.outcome, decision.field) == ("invalid", "minute")


def test_a_late_goal_is_checked_against_the_half_it_belongs_to() -> None:
    # Given a match in the second half (first half from seq 2 to 4)
    state = _in_play(first_half=False)
    later, _ = play([clock(9, 60)], state)

    # When a late goal of the second half (sequence 6, after the second half began at 5) says minute 30
    decision = decide_feed_event(later, goal(6, minute=30), now=NOW)

    # Then it is invalid: minute 30 is not in the second half
    assert (decision.outcome, decision.field) == ("invalid", "minute")


# --- The transition table, cell by cell --------------------------------------------------------------------------


def _state_in(period: str) -> FeedState | None:
    feeds = {
        "none": [],
        "pre_match": whole_match()[:1],
        "first_half": whole_match()[:2],
        "half_time": whole_match()[:4],
        "second_half": whole_match()[:5],
        "full_time": whole_match(),
    }
    state, _ = play(feeds[period])
    assert (state.match_period if state else "none") == period
    return state


def _legal_example(event_type: str, sequence: int, period: str) -> dict[str, Any]:
    minute = 50 if period == "second_half" else 10
    return {
        "fixture_created": created(sequence),
        "goal": goal(sequence, minute=minute),
        "card": card(sequence, minute=minute),
        "penalty_awarded": event(sequence, "penalty_awarded", team="home", minute=minute),
        "var_check": event(sequence, "var_check", minute=minute),
        "clock": clock(sequence, minute),
    }.get(event_type, phase(sequence, event_type))


@pytest.mark.parametrize("period", PERIODS)
@pytest.mark.parametrize("event_type", list(TRANSITIONS))
def test_each_cell_of_the_transition_table_decides_as_the_table_says(event_type: str, period: str) -> None:
    # Given a fixture in the period
    state = _state_in(period)

    # When the newest event of the type arrives
    decision = decide_feed_event(state, _legal_example(event_type, 50, period), now=NOW)

    # Then it is applied, leading where the table says, or refused with the table's error
    refusal = refusal_for(event_type, period)
    if refusal is None:
        assert decision.outcome == "applied" and decision.state is not None
        assert decision.state.match_period == (TRANSITIONS[event_type].to_period or period)
        assert decision.state.last_sequence == 50
    else:
        assert (decision.outcome, decision.error) == ("illegal_transition", refusal)


def test_the_documented_transition_table_is_the_generated_one() -> None:
    # Given the feed contract's document
    document = (DOCS / "feed-events.md").read_text()

    # Then it contains the table generated from TRANSITIONS (python -m lambdas.domain.match_phases)
    assert transition_table_markdown() in document


# --- What the state remembers -------------------------------------------------------------------------------------


def test_the_stored_form_reads_back_as_the_same_state() -> None:
    # Given a finished match's state
    state, _ = play(whole_match())
    assert state is not None

    # When it is stored as attributes and read back
    stored = json.loads(json.dumps(state.attributes()))
    again = FeedState.model_validate(stored)

    # Then nothing is lost, and the pricing phase is stored beside the period
    assert again == state
    assert stored["match_phase"] == "full_time"
    assert stored["phase_changes"][0] == "1 pre_match"


def test_the_period_at_a_sequence_comes_from_the_recorded_phase_changes() -> None:
    # Given a state whose phase changes are stored out of order
    state = _in_play(first_half=False).model_copy(
        update={
            "phase_changes": (
                PhaseChange(sequence=4, period="half_time"),
                PhaseChange(sequence=1, period="pre_match"),
                PhaseChange(sequence=2, period="first_half"),
                PhaseChange(sequence=5, period="second_half"),
            )
        }
    )

    # Then each sequence falls in the period entered before it
    assert [state.period_at(s) for s in (1, 2, 3, 4, 5, 6)] == [
        "none",
        "pre_match",
        "first_half",
        "first_half",
        "half_time",
        "second_half",
    ]
