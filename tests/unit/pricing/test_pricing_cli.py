"""The quoting CLI: JSON shape, inputs and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lambdas.pricing.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_prints_the_full_book_in_the_documented_shape(capsys: pytest.CaptureFixture[str]) -> None:
    # Given goal expectations
    # When the CLI quotes them
    document = run(capsys, "--home-goals", "1.6", "--away-goals", "1.1")
    # Then every market type is present with the documented selections and fields
    markets = document["markets"]
    assert {m["type"] for m in markets} == {
        "match_result",
        "double_chance",
        "draw_no_bet",
        "total_goals",
        "both_teams_to_score",
        "correct_score",
        "asian_handicap",
        "team_total",
    }
    result = next(m for m in markets if m["type"] == "match_result")
    assert [s["name"] for s in result["selections"]] == ["home", "draw", "away"]
    assert set(result) == {"type", "line", "status", "selections"}
    assert set(result["selections"][0]) == {"name", "fair_probability", "probability", "price"}
    assert any(m["type"] == "total_goals" and m["line"] == 2.5 for m in markets)
    scores = next(m for m in markets if m["type"] == "correct_score")["selections"]
    assert scores[-1]["name"] == "other" and scores[0]["name"] == "0-0"


def test_odds_input_margin_and_in_play_state_are_used(capsys: pytest.CaptureFixture[str]) -> None:
    # Given odds instead of expectations, an in-play state and a 10 % Shin margin
    document = run(
        capsys,
        "--odds",
        "2.10",
        "3.40",
        "3.60",
        "--over25",
        "1.95",
        "1.90",
        "--minute",
        "60",
        "--score",
        "1-0",
        "--red-cards",
        "0-1",
        "--margin",
        "10",
        "--margin-method",
        "shin",
    )
    # When the book is read
    result = next(m for m in document["markets"] if m["type"] == "match_result")
    # Then the inputs echo the state and the result market carries the 10 % margin
    assert document["inputs"]["phase"] == "in_play" and document["inputs"]["score"] == "1-0"
    booksum = sum(s["probability"] for s in result["selections"])
    assert 1.10 <= booksum < 1.16
    assert next(s for s in result["selections"] if s["name"] == "home")["fair_probability"] > 0.6


@pytest.mark.parametrize(
    "argv",
    [
        ["--home-goals", "1.5"],
        ["--home-goals", "1.5", "--away-goals", "1.1", "--odds", "2", "3", "4", "--over25", "2", "2"],
        ["--home-goals", "9", "--away-goals", "1"],
        ["--home-goals", "1.5", "--away-goals", "1.1", "--score", "one-nil"],
        ["--home-goals", "1.5", "--away-goals", "1.1", "--margin-method", "basic"],
        ["--home-goals", "1.5", "--away-goals", "1.1", "--margin", "80"],
    ],
)
def test_bad_arguments_give_one_line_and_a_non_zero_exit(argv: list[str]) -> None:
    # Given bad arguments
    # When the CLI runs as a program
    completed = subprocess.run([sys.executable, "-m", "lambdas.pricing.cli", *argv], capture_output=True, text=True)
    # Then it exits non-zero with a single error line and no traceback
    assert completed.returncode != 0
    assert completed.stdout == ""
    assert len(completed.stderr.strip().splitlines()) == 1
    assert completed.stderr.startswith("error:")
