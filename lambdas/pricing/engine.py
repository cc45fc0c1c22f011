"""The full book of a fixture, pre-match or in-play, from one Dixon–Coles matrix of remaining goals.

Pipeline, vectorised over a batch of fixtures:

1. validate each request and turn it into remaining goal expectations (clock, red cards) and the current score;
2. build every fixture's remaining-goals matrix and, with one matrix product, the distributions of remaining
   total goals, goal difference and each side's goals;
3. lay those out as one "feature" row per fixture (``P(X >= k)`` and ``P(X <= k)`` for each distribution,
   result, both-to-score and correct-score cells);
4. every selection is then two gathers from that row: the probability that its stake wins and that it loses
   (a quarter line is the average of its two half stakes), its fair probability being ``win / (win + lose)``;
5. margins are solved for every market at once and prices rounded to the ladder, never below a market's target
   booksum (a market no ladder price can bring to its target is closed);
6. only then are the output dataclasses built.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain
from operator import attrgetter
from typing import Any, cast

import numpy as np

from lambdas.pricing.margins import (
    DEFAULT_MARGIN_METHOD,
    DEFAULT_PRICE_LADDER,
    MARGIN_METHODS,
    PRICING_BOOKSUM_TOLERANCE,
    _apply_normalised,
    check_margin_method,
    check_overround,
    ladder_array,
    offered_probabilities,
    round_to_ladder_checked,
)
from lambdas.pricing.model import (
    DEFAULT_RED_CARD_OPPONENT_FACTOR,
    DEFAULT_RED_CARD_OWN_FACTOR,
    DEFAULT_RHO,
    MATRIX_SIZE,
    MAX_GOAL_EXPECTATION,
    MAX_MINUTE,
    MAX_RED_CARDS,
    MAX_SCORE,
    MAX_STOPPAGE_MINUTES,
    MIN_GOAL_EXPECTATION,
    PHASES,
    PricingInputError,
    check_finite,
    check_goal_expectation,
    check_rho,
    dixon_coles_matrices,
    dixon_coles_matrix,
    remaining_share,
    remaining_shares,
    rho_bounds,
)

MARKET_TYPES = (
    "match_result",
    "double_chance",
    "draw_no_bet",
    "total_goals",
    "both_teams_to_score",
    "correct_score",
    "asian_handicap",
    "team_total",
)
DEFAULT_MARGINS: Mapping[str, float] = {
    "match_result": 0.05,
    "double_chance": 0.05,
    "draw_no_bet": 0.05,
    "total_goals": 0.05,
    "both_teams_to_score": 0.06,
    "correct_score": 0.20,
    "asian_handicap": 0.04,
    "team_total": 0.06,
}
MARKET_STATUSES = ("open", "suspended", "closed", "settled")
# Settled and closed markets are not offered: their selections carry this price and probability.
NOT_OFFERED_PRICE = 1.0

# Book shape (see docs/pricing.md): total-goals half lines 0.5 .. max(6.5, goals so far + 3.5) plus the quarter and
# whole lines within 0.75 of the main line; nine Asian handicap lines main -1 .. main +1; team totals on half
# lines 0.5 .. max(3.5, team goals + 2.5); correct score for 0..4 further goals per side plus "other".
MIN_TOP_TOTAL_LINE = 6.5
TOTAL_LINES_ABOVE_SCORE = 3.5
TOTAL_ASIAN_OFFSETS = (-0.75, -0.5, -0.25, 0.25, 0.5, 0.75)
HANDICAP_OFFSETS = (-1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0)
MIN_TOP_TEAM_LINE = 3.5
TEAM_LINES_ABOVE_SCORE = 2.5
CORRECT_SCORE_FURTHER_GOALS = 4


@dataclass(frozen=True, slots=True)
class PricingRequest:
    """Everything needed to price one fixture; see docs/pricing.md for every field's valid range."""

    home_goals: float
    away_goals: float
    rho: float = DEFAULT_RHO
    phase: str = "pre_match"
    minute: float = 0.0
    stoppage_minutes: float = 0.0
    home_score: int = 0
    away_score: int = 0
    home_red_cards: int = 0
    away_red_cards: int = 0
    suspended: bool = False
    suspended_market_types: frozenset[str] = frozenset()
    margins: Mapping[str, float] = field(default_factory=dict)
    margin_method: str = DEFAULT_MARGIN_METHOD
    price_overrides: Mapping[tuple[str, float | None, str], float] = field(default_factory=dict)
    price_ladder: tuple[float, ...] = DEFAULT_PRICE_LADDER
    red_card_own_factor: float = DEFAULT_RED_CARD_OWN_FACTOR
    red_card_opponent_factor: float = DEFAULT_RED_CARD_OPPONENT_FACTOR
    # One market of a type with lines, e.g. ("total_goals", 2.5): suspended while the type's other lines trade.
    suspended_markets: frozenset[tuple[str, float]] = frozenset()


@dataclass(frozen=True, slots=True)
class Selection:
    """One outcome of a market: fair probability, offered probability (``1 / price``) and decimal price."""

    name: str
    fair_probability: float
    probability: float
    price: float


@dataclass(frozen=True, slots=True)
class Market:
    """One market of the book. ``line`` is ``None`` for markets without a line, from the home side for handicaps."""

    type: str
    line: float | None
    status: str
    selections: tuple[Selection, ...]


# Building ~130 frozen dataclasses per book dominates the cost of a batch. A frozen dataclass's __init__ goes
# through object.__setattr__ per field (~0.9 us per Selection). These builders have the same slots, so CPython lets
# an instance change its __class__ to the frozen type once its fields are set (~0.2 us): the objects are genuine
# Selection / Market instances, equal to and as immutable as ones built through the constructor.
class _SelectionBuilder:
    __slots__ = ("name", "fair_probability", "probability", "price")

    def __init__(self, name: str, fair_probability: float, probability: float, price: float) -> None:
        self.name = name
        self.fair_probability = fair_probability
        self.probability = probability
        self.price = price
        self.__class__ = Selection  # type: ignore[assignment]


class _MarketBuilder:
    __slots__ = ("type", "line", "status", "selections")

    def __init__(self, market_type: str, line: float | None, status: str, selections: tuple[Selection, ...]) -> None:
        self.type = market_type
        self.line = line
        self.status = status
        self.selections = selections
        self.__class__ = Market  # type: ignore[assignment]


# ---------------------------------------------------------------------------------------------------------------
# Feature row layout. Each feature is the probability of an event about the remaining goals, i.e. a sum of cells of
# the score matrix, so the whole row is ONE matrix product of the flattened matrix with a fixed 0/1 weight matrix.
# For a distribution of remaining goals X on lo..hi, "ge" holds P(X >= k) and "le" P(X <= k) for k = lo-1 .. hi+1,
# so any threshold clips into range and "cannot happen" is an exact zero (a sum of no cells).
_N = MATRIX_SIZE
_TOTAL_RANGE = (0, 2 * _N - 2)
_DIFF_RANGE = (-(_N - 1), _N - 1)
_TEAM_RANGE = (0, _N - 1)
_WIDE = 2 * _N + 1
_NARROW = _N + 2
_TOTAL_GE = 0
_TOTAL_LE = _TOTAL_GE + _WIDE
_DIFF_GE = _TOTAL_LE + _WIDE
_DIFF_LE = _DIFF_GE + _WIDE
_DIFF_EQ = _DIFF_LE + _WIDE  # P(remaining difference == k): the draw
_DIFF_NE = _DIFF_EQ + _WIDE  # its complement, summed directly rather than as 1 - P so small values stay exact
_HOME_GE = _DIFF_NE + _WIDE
_HOME_LE = _HOME_GE + _NARROW
_AWAY_GE = _HOME_LE + _NARROW
_AWAY_LE = _AWAY_GE + _NARROW
_BTTS_YES_FROM_NIL, _BTTS_NO_FROM_NIL = _AWAY_LE + _NARROW, _AWAY_LE + _NARROW + 1  # at 0-0
_CS_CELLS = (CORRECT_SCORE_FURTHER_GOALS + 1) ** 2
_CS = _BTTS_NO_FROM_NIL + 1  # 25 cells of further goals, then "other"
_CS_NOT = _CS + _CS_CELLS + 1
_FEATURES = _CS_NOT + _CS_CELLS + 1


def _feature_weights() -> np.ndarray:
    """0/1 matrix, shape (cells, features): the flattened score matrix times it is the feature row."""
    home, away = np.divmod(np.arange(_N * _N), _N)
    total, difference = home + away, home - away
    weights = np.zeros((_N * _N, _FEATURES), dtype=bool)

    def threshold_block(start: int, values: np.ndarray, value_range: tuple[int, int], compare) -> None:
        thresholds = np.arange(value_range[0] - 1, value_range[1] + 2)
        weights[:, start : start + thresholds.size] = compare(values[:, None], thresholds[None, :])

    threshold_block(_TOTAL_GE, total, _TOTAL_RANGE, np.greater_equal)
    threshold_block(_TOTAL_LE, total, _TOTAL_RANGE, np.less_equal)
    threshold_block(_DIFF_GE, difference, _DIFF_RANGE, np.greater_equal)
    threshold_block(_DIFF_LE, difference, _DIFF_RANGE, np.less_equal)
    threshold_block(_DIFF_EQ, difference, _DIFF_RANGE, np.equal)
    threshold_block(_DIFF_NE, difference, _DIFF_RANGE, np.not_equal)
    threshold_block(_HOME_GE, home, _TEAM_RANGE, np.greater_equal)
    threshold_block(_HOME_LE, home, _TEAM_RANGE, np.less_equal)
    threshold_block(_AWAY_GE, away, _TEAM_RANGE, np.greater_equal)
    threshold_block(_AWAY_LE, away, _TEAM_RANGE, np.less_equal)
    weights[:, _BTTS_YES_FROM_NIL] = (home > 0) & (away > 0)
    weights[:, _BTTS_NO_FROM_NIL] = (home == 0) | (away == 0)
    shown = CORRECT_SCORE_FURTHER_GOALS
    cell_index = np.where((home <= shown) & (away <= shown), home * (shown + 1) + away, _CS_CELLS)  # other last
    weights[:, _CS : _CS + _CS_CELLS + 1] = cell_index[:, None] == np.arange(_CS_CELLS + 1)[None, :]
    weights[:, _CS_NOT : _CS_NOT + _CS_CELLS + 1] = ~weights[:, _CS : _CS + _CS_CELLS + 1]
    return weights.astype(float)


_FEATURE_WEIGHTS = _feature_weights()


def _column(ge_or_le_offset: int, value_range: tuple[int, int], k: int) -> int:
    low, high = value_range
    return ge_or_le_offset + min(max(k, low - 1), high + 1) - (low - 1)


def _stake_halves(threshold: float) -> tuple[float, float]:
    # A quarter line is half the stake on each neighbouring line; whole and half lines are one stake twice.
    quarters = round(threshold * 4) % 4
    if quarters in (1, 3):
        return threshold - 0.25, threshold + 0.25
    return threshold, threshold


def _over_columns(ge: int, le: int, value_range: tuple[int, int], threshold: float) -> tuple[int, int, int, int]:
    """Columns of (win, win, lose, lose) for a bet that X ends above ``threshold``."""
    first, second = _stake_halves(threshold)
    return (
        _column(ge, value_range, math.floor(first) + 1),
        _column(ge, value_range, math.floor(second) + 1),
        _column(le, value_range, math.ceil(first) - 1),
        _column(le, value_range, math.ceil(second) - 1),
    )


@dataclass(frozen=True, slots=True)
class _Layout:
    types: tuple[str, ...]
    lines: tuple[float | None, ...]
    names: tuple[str, ...]
    bounds: tuple[tuple[int, int], ...]
    starts: np.ndarray
    columns: np.ndarray
    gather: np.ndarray  # (4, selections): feature columns of win, win, lose, lose (two halves of the stake)
    slices: tuple[slice, ...]  # each market's selections
    fair_sums: np.ndarray
    type_codes: np.ndarray
    settled: np.ndarray
    keys: dict[tuple[str, float | None, str], int]
    line_values: np.ndarray  # lines as floats, NaN for markets without one (the array API's view of ``lines``)
    # Single-fixture fast path (price_fixture): everything here depends only on the book's structure.
    scale: np.ndarray  # (selections,) fair_sums[columns], the normalisation of offered_probabilities
    half: np.ndarray  # (1, selections) of 0.5: the fair probability of a fully pushed stake
    # _Decided per pattern of decided markets (see _decided), filled on first use; bounded by _DECIDED_PER_LAYOUT.
    decided: dict[object, _Decided] = field(default_factory=dict, compare=False)


class _Decided:
    """What a single-fixture book needs once its settled and closed markets are known, with the default margins.

    Everything here follows from the layout, the full-time flag and which selections can no longer lose, so it is
    cached by that value on the layout (:func:`_decided`). Arrays are read-only: every book with the pattern
    shares them.
    """

    __slots__ = (
        "priced",
        "selection_offered",
        "settled",
        "closed",
        "overrounds",
        "booksums",
        "targets",
        "statuses",
    )

    def __init__(self, layout: _Layout, settled: np.ndarray, closed: np.ndarray) -> None:
        offered_mask = ~(closed | settled)
        every_market = bool(offered_mask.all())
        # The same expressions as _price_group with these markets offered and the default margin row.
        overrounds = np.where(offered_mask, _DEFAULT_MARGIN_ROW[None, :][:, layout.type_codes], 0.0)
        booksums = 1.0 + overrounds
        targets = layout.fair_sums * (1.0 + overrounds)
        selection_offered = offered_mask[0, layout.columns]
        for array in (offered_mask, settled, closed, overrounds, booksums, targets, selection_offered):
            array.flags.writeable = False
        codes = np.where(settled, _STATUS_SETTLED, np.where(closed, _STATUS_CLOSED, _STATUS_OPEN))
        #: (1, markets) markets offered, None when all are (round_to_ladder_checked's ``priced``).
        self.priced = None if every_market else offered_mask
        #: (selections,) selections of offered markets, None when all are.
        self.selection_offered = None if every_market else selection_offered
        self.settled, self.closed = settled, closed
        self.overrounds, self.booksums, self.targets = overrounds, booksums, targets
        self.statuses = tuple(map(MARKET_STATUSES.__getitem__, codes[0].tolist()))


# Patterns of decided markets kept per layout: in practice one or two (the score fixes the settled lines; a closed
# whole line appears exactly on its score), so the bound only matters for pathological inputs.
_DECIDED_PER_LAYOUT = 16


def _decided(layout: _Layout, full_time: bool, can_close: np.ndarray, closing: bool) -> _Decided:
    """The :class:`_Decided` of a book: ``can_close`` is ``(1, selections)``, True where a selection can no longer
    lose (with ``win > 0``); ``closing`` is ``can_close.any()``. Cached on the layout by value."""
    key = True if full_time else (can_close.tobytes() if closing else None)
    entry = layout.decided.get(key)
    if entry is None:
        markets = len(layout.types)
        if full_time:
            settled = np.ones((1, markets), dtype=bool)
        else:
            settled = layout.settled[None, :].copy()
        if closing:
            closed = np.add.reduceat(can_close, layout.starts, axis=1) > 0
        else:
            closed = np.zeros((1, markets), dtype=bool)
        entry = _Decided(layout, settled, closed)
        if len(layout.decided) >= _DECIDED_PER_LAYOUT:
            layout.decided.pop(next(iter(layout.decided)))
        layout.decided[key] = entry
    return entry


def _line_value(value: float) -> float:
    # Lines are multiples of 0.25: round away representation noise so JSON shows 2.5, not 2.4999999.
    return round(value * 4) / 4


def _result_columns(home_score: int, away_score: int) -> tuple[int, ...]:
    """Feature columns of home win, not home, draw, not draw, away win, not away, BTTS yes, BTTS no at this score."""
    # Result events on the remaining goal difference X given the current difference d: home wins when X >= 1 - d,
    # draws when X == -d, away wins when X <= -1 - d.
    d = home_score - away_score
    home_win = _column(_DIFF_GE, _DIFF_RANGE, 1 - d)
    not_home = _column(_DIFF_LE, _DIFF_RANGE, -d)
    draw = _column(_DIFF_EQ, _DIFF_RANGE, -d)
    not_draw = _column(_DIFF_NE, _DIFF_RANGE, -d)
    away_win = _column(_DIFF_LE, _DIFF_RANGE, -1 - d)
    not_away = _column(_DIFF_GE, _DIFF_RANGE, -d)
    # Both to score: at 0-0 both must still score; a side that has scored needs only the other (X >= 1 on a range
    # starting at 0); at k = -1 "ge" is the certain event and "le" the impossible one.
    if home_score == 0 and away_score == 0:
        btts_yes, btts_no = _BTTS_YES_FROM_NIL, _BTTS_NO_FROM_NIL
    elif home_score == 0:
        btts_yes, btts_no = _column(_HOME_GE, _TEAM_RANGE, 1), _column(_HOME_LE, _TEAM_RANGE, 0)
    elif away_score == 0:
        btts_yes, btts_no = _column(_AWAY_GE, _TEAM_RANGE, 1), _column(_AWAY_LE, _TEAM_RANGE, 0)
    else:
        btts_yes, btts_no = _column(_HOME_GE, _TEAM_RANGE, -1), _column(_HOME_LE, _TEAM_RANGE, -1)
    return home_win, not_home, draw, not_draw, away_win, not_away, btts_yes, btts_no


@lru_cache(maxsize=4096)
def _layout(home_score: int, away_score: int, main_total_line: float, main_handicap_line: float) -> _Layout:
    markets: list[tuple[str, float | None, bool, float, list[tuple[str, tuple[int, int, int, int]]]]] = []
    same = lambda column: (column, column)  # noqa: E731
    pair = lambda win, lose: (*same(win), *same(lose))  # noqa: E731
    home_win, not_home, draw, not_draw, away_win, not_away, btts_yes, btts_no = _result_columns(home_score, away_score)
    markets.append(
        (
            "match_result",
            None,
            False,
            1.0,
            [
                ("home", pair(home_win, not_home)),
                ("draw", pair(draw, not_draw)),
                ("away", pair(away_win, not_away)),
            ],
        )
    )
    markets.append(
        (
            "double_chance",
            None,
            False,
            2.0,
            [
                ("home_or_draw", pair(not_away, away_win)),
                ("home_or_away", pair(not_draw, draw)),
                ("draw_or_away", pair(not_home, home_win)),
            ],
        )
    )
    markets.append(
        (
            "draw_no_bet",
            None,
            False,
            1.0,
            [
                ("home", pair(home_win, away_win)),
                ("away", pair(away_win, home_win)),
            ],
        )
    )

    def over_under(
        market_type: str, line: float, score: int, ge: int, le: int, value_range: tuple[int, int], prefix: str
    ) -> None:
        threshold = line - score
        win_a, win_b, lose_a, lose_b = _over_columns(ge, le, value_range, threshold)
        settled = max(_stake_halves(threshold)) < 0  # every stake already over: no later goal changes the result
        markets.append(
            (
                market_type,
                _line_value(line),
                settled,
                1.0,
                [
                    (prefix + "over", (win_a, win_b, lose_a, lose_b)),
                    (prefix + "under", (lose_a, lose_b, win_a, win_b)),
                ],
            )
        )

    goals = home_score + away_score
    top_total = max(MIN_TOP_TOTAL_LINE, goals + TOTAL_LINES_ABOVE_SCORE)
    total_lines = {0.5 + k for k in range(int(top_total - 0.5) + 1)}
    total_lines.update(main_total_line + offset for offset in TOTAL_ASIAN_OFFSETS if main_total_line + offset > 0)
    for line in sorted(total_lines):
        over_under("total_goals", line, goals, _TOTAL_GE, _TOTAL_LE, _TOTAL_RANGE, "")

    markets.append(
        (
            "both_teams_to_score",
            None,
            home_score > 0 and away_score > 0,
            1.0,
            [
                ("yes", pair(btts_yes, btts_no)),
                ("no", pair(btts_no, btts_yes)),
            ],
        )
    )
    further = range(CORRECT_SCORE_FURTHER_GOALS + 1)
    cells = [f"{home_score + i}-{away_score + j}" for i in further for j in further]
    markets.append(
        (
            "correct_score",
            None,
            False,
            1.0,
            [
                *((name, pair(_CS + k, _CS_NOT + k)) for k, name in enumerate(cells)),
                ("other", pair(_CS + _CS_CELLS, _CS_NOT + _CS_CELLS)),
            ],
        )
    )

    difference = home_score - away_score
    for offset in HANDICAP_OFFSETS:
        line = main_handicap_line + offset
        # Home covers line L when the final difference + L > 0, i.e. remaining difference > -L - current difference.
        win_a, win_b, lose_a, lose_b = _over_columns(_DIFF_GE, _DIFF_LE, _DIFF_RANGE, -line - difference)
        markets.append(
            (
                "asian_handicap",
                _line_value(line),
                False,
                1.0,
                [
                    ("home", (win_a, win_b, lose_a, lose_b)),
                    ("away", (lose_a, lose_b, win_a, win_b)),
                ],
            )
        )

    for prefix, score, ge, le in (("home_", home_score, _HOME_GE, _HOME_LE), ("away_", away_score, _AWAY_GE, _AWAY_LE)):
        top = max(MIN_TOP_TEAM_LINE, score + TEAM_LINES_ABOVE_SCORE)
        for k in range(int(top - 0.5) + 1):
            over_under("team_total", 0.5 + k, score, ge, le, _TEAM_RANGE, prefix)

    types: list[str] = []
    lines: list[float | None] = []
    names: list[str] = []
    bounds: list[tuple[int, int]] = []
    starts: list[int] = []
    fair_sums: list[float] = []
    codes: list[int] = []
    settled: list[bool] = []
    columns: list[int] = []
    cols: list[tuple[int, int, int, int]] = []
    for index, (market_type, market_line, is_settled, fair_sum, selections) in enumerate(markets):
        start = len(names)
        starts.append(start)
        bounds.append((start, start + len(selections)))
        types.append(market_type)
        lines.append(market_line)
        fair_sums.append(fair_sum)
        codes.append(MARKET_TYPES.index(market_type))
        settled.append(is_settled)
        for name, selection_columns in selections:
            names.append(name)
            columns.append(index)
            cols.append(selection_columns)
    gathered = np.array(cols, dtype=np.intp)
    keys: dict[tuple[str, float | None, str], int] = {
        (types[m], lines[m], names[s]): s for m, (first, end) in enumerate(bounds) for s in range(first, end)
    }
    fair_sum_array = np.array(fair_sums)
    column_array, code_array = np.array(columns, dtype=np.intp), np.array(codes, dtype=np.intp)
    return _Layout(
        types=tuple(types),
        lines=tuple(lines),
        names=tuple(names),
        bounds=tuple(bounds),
        starts=np.array(starts, dtype=np.intp),
        columns=column_array,
        gather=np.ascontiguousarray(gathered.T),
        slices=tuple(slice(first, end) for first, end in bounds),
        fair_sums=fair_sum_array,
        type_codes=code_array,
        settled=np.array(settled),
        keys=keys,
        line_values=np.array([np.nan if line is None else line for line in lines]),
        scale=fair_sum_array[column_array],
        half=np.full((1, len(names)), 0.5),
    )


# Candidate handicap thresholds on the remaining goal difference, in quarter steps, to find the main line.
_HANDICAP_GRID = np.arange(-24, 25) / 4.0
_GRID_COLUMNS = np.array([_over_columns(_DIFF_GE, _DIFF_LE, _DIFF_RANGE, x) for x in _HANDICAP_GRID], dtype=np.intp)
_GRID_GATHER = np.ascontiguousarray(_GRID_COLUMNS.T)  # (4, candidates): win, win, lose, lose columns
_HANDICAP_THRESHOLDS = _HANDICAP_GRID.tolist()
_TOTAL_MAIN_CANDIDATES = 10  # half lines goals+0.5 .. goals+9.5
_DEFAULT_MARGIN_ROW = np.array([DEFAULT_MARGINS[t] for t in MARKET_TYPES])
_DEFAULT_LADDER = ladder_array(DEFAULT_PRICE_LADDER)


# ---------------------------------------------------------------------------------------------------------------
# Validation.
@dataclass(frozen=True, slots=True)
class _Prepared:
    remaining_home: float
    remaining_away: float
    rho: float
    home_score: int
    away_score: int
    full_time: bool
    margin_row: np.ndarray | None
    method: str
    ladder: np.ndarray
    request: PricingRequest


def _check_count(field_name: str, value: object, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise PricingInputError(field_name, f"must be a whole number, got {value!r}")
    if not 0 <= value <= maximum:
        raise PricingInputError(field_name, f"must be between 0 and {maximum}, got {value}")
    return int(value)


def _check_range(field_name: str, value: object, low: float, high: float) -> float:
    number = check_finite(field_name, value)
    if not low <= number <= high:
        raise PricingInputError(field_name, f"must be between {low} and {high}, got {number}")
    return number


def _check_trader_settings(request: PricingRequest) -> np.ndarray | None:
    """Validate suspension, margins and overrides; return the per-type margin row (None = all defaults)."""
    _check_suspensions(request)
    margin_row = None
    if request.margins:
        margin_row = _DEFAULT_MARGIN_ROW.copy()
        for market_type, value in request.margins.items():
            if market_type not in MARKET_TYPES:
                raise PricingInputError("margins", f"unknown market type {market_type!r}")
            margin_row[MARKET_TYPES.index(market_type)] = check_overround(value, f"margins[{market_type}]")
    for key, price in request.price_overrides.items():
        if not (isinstance(key, tuple) and len(key) == 3 and key[0] in MARKET_TYPES):
            raise PricingInputError("price_overrides", f"key must be (market type, line, selection), got {key!r}")
        if check_finite(f"price_overrides[{key}]", price) <= 1.0:
            raise PricingInputError(f"price_overrides[{key}]", f"decimal price must be above 1, got {price}")
    return margin_row


def _check_suspensions(request: PricingRequest) -> None:
    if not isinstance(request.suspended, (bool, np.bool_)):
        raise PricingInputError("suspended", f"must be true or false, got {request.suspended!r}")
    unknown = set(request.suspended_market_types).difference(MARKET_TYPES)
    if unknown:
        raise PricingInputError("suspended_market_types", f"unknown market types {sorted(unknown)}")
    for market in request.suspended_markets:
        if not (isinstance(market, tuple) and len(market) == 2 and market[0] in MARKET_TYPES):
            raise PricingInputError("suspended_markets", f"each must be (market type, line), got {market!r}")
        check_finite("suspended_markets", market[1])


_PLAIN_REAL_TYPES = frozenset({float, int})


def _plain_state(request: object) -> tuple | None:
    """The validated numbers of a request whose numeric fields are all plain, in range and consistent, else None.

    Accepts exactly the requests (and returns exactly the values) that :func:`_checked_state` accepts when every
    real field is a plain ``float``/``int`` and every count a plain ``int``; anything else returns None so that the
    detailed checks run and raise their usual message. Costs a few comparisons instead of ~20 helper calls.
    """
    if type(request) is not PricingRequest:
        return None
    home, away, rho = request.home_goals, request.away_goals, request.rho
    minute, stoppage = request.minute, request.stoppage_minutes
    own, opponent = request.red_card_own_factor, request.red_card_opponent_factor
    counts = home_score, away_score, home_reds, away_reds = (
        request.home_score,
        request.away_score,
        request.home_red_cards,
        request.away_red_cards,
    )
    phase = request.phase
    plain = _PLAIN_REAL_TYPES
    if not (
        type(home) in plain
        and type(away) in plain
        and type(rho) in plain
        and type(minute) in plain
        and type(stoppage) in plain
        and type(own) in plain
        and type(opponent) in plain
        and type(home_score) is int
        and type(away_score) is int
        and type(home_reds) is int
        and type(away_reds) is int
        and MIN_GOAL_EXPECTATION <= home <= MAX_GOAL_EXPECTATION  # NaN and infinities fail the range checks
        and MIN_GOAL_EXPECTATION <= away <= MAX_GOAL_EXPECTATION
        and 0.0 <= minute <= MAX_MINUTE
        and 0.0 <= stoppage <= MAX_STOPPAGE_MINUTES
        and 0 <= home_score <= MAX_SCORE
        and 0 <= away_score <= MAX_SCORE
        and 0 <= home_reds <= MAX_RED_CARDS
        and 0 <= away_reds <= MAX_RED_CARDS
        and 0.05 <= own <= 1.0
        and 1.0 <= opponent <= 3.0
        and phase in PHASES
    ):
        return None
    home, away = float(home), float(away)
    lowest, highest = rho_bounds(home, away)
    if not lowest <= rho <= highest:  # compared before float(): a huge int is left to the detailed checks
        return None
    if phase == "pre_match" and (minute or stoppage or any(counts)):
        return None
    return home, away, float(rho), phase, float(minute), float(stoppage), *counts, float(own), float(opponent)


def _checked_state(request: object) -> tuple:
    """The numbers of a request, each checked in field order; raises the first problem found."""
    if not isinstance(request, PricingRequest):
        raise PricingInputError("request", f"must be a PricingRequest, got {type(request).__name__}")
    home = check_goal_expectation("home_goals", request.home_goals)
    away = check_goal_expectation("away_goals", request.away_goals)
    rho = check_rho(request.rho, home, away)
    phase = request.phase
    if phase not in PHASES:
        raise PricingInputError("phase", f"must be one of {', '.join(PHASES)}, got {phase!r}")
    minute = _check_range("minute", request.minute, 0.0, MAX_MINUTE)
    stoppage = _check_range("stoppage_minutes", request.stoppage_minutes, 0.0, MAX_STOPPAGE_MINUTES)
    home_score = _check_count("home_score", request.home_score, MAX_SCORE)
    away_score = _check_count("away_score", request.away_score, MAX_SCORE)
    home_reds = _check_count("home_red_cards", request.home_red_cards, MAX_RED_CARDS)
    away_reds = _check_count("away_red_cards", request.away_red_cards, MAX_RED_CARDS)
    if phase == "pre_match":
        for name, value in (
            ("minute", minute),
            ("stoppage_minutes", stoppage),
            ("home_score", home_score),
            ("away_score", away_score),
            ("home_red_cards", home_reds),
            ("away_red_cards", away_reds),
        ):
            if value != 0:
                raise PricingInputError(name, f"must be 0 before kick-off (phase pre_match), got {value}")
    own = _check_range("red_card_own_factor", request.red_card_own_factor, 0.05, 1.0)
    opponent = _check_range("red_card_opponent_factor", request.red_card_opponent_factor, 1.0, 3.0)
    return home, away, rho, phase, minute, stoppage, home_score, away_score, home_reds, away_reds, own, opponent


def _has_plain_trader_settings(request: PricingRequest) -> bool:
    """True when suspension, margins and overrides are the defaults (nothing for _check_trader_settings to do)."""
    markets, margins, overrides = request.suspended_market_types, request.margins, request.price_overrides
    return (
        request.suspended is False
        and type(markets) is frozenset
        and not markets
        and not request.suspended_markets
        and type(margins) is dict
        and not margins
        and type(overrides) is dict
        and not overrides
    )


def _prepare_values(request: PricingRequest) -> tuple:
    """Validate one request: ``(remaining home, remaining away, rho, home score, away score, full time, margin row,
    method, ladder)`` with the margin row None for the default margins."""
    state = _plain_state(request)
    if state is None:
        state = _checked_state(request)
    home, away, rho, phase, minute, stoppage, home_score, away_score, home_reds, away_reds, own, opponent = state
    margin_row = None if _has_plain_trader_settings(request) else _check_trader_settings(request)
    method = check_margin_method(request.margin_method)
    ladder = ladder_array(request.price_ladder)
    share = remaining_share(phase, minute, stoppage)
    remaining_home = home * share * own**home_reds * opponent**away_reds
    remaining_away = away * share * own**away_reds * opponent**home_reds
    if share != 1.0 or home_reds or away_reds:
        # Red cards can lift one side above its pre-match rate; keep every Dixon-Coles factor non-negative.
        lowest, highest = rho_bounds(remaining_home, remaining_away)
        rho = min(max(rho, lowest), highest)
    return remaining_home, remaining_away, rho, home_score, away_score, phase == "full_time", margin_row, method, ladder


def _prepare(request: PricingRequest) -> _Prepared:
    return _Prepared(*_prepare_values(request), request)  # type: ignore[call-arg]  # a 9-tuple of validated fields


@dataclass(frozen=True, slots=True)
class _Batch:
    """Validated requests as arrays: remaining goal expectations and match state, one entry per fixture."""

    remaining_home: np.ndarray
    remaining_away: np.ndarray
    rho: np.ndarray
    home_scores: list[int]
    away_scores: list[int]
    full_time: np.ndarray
    margin_rows: np.ndarray  # (fixtures, market types)
    methods: list[str]
    ladders: list[np.ndarray]
    requests: Sequence[PricingRequest]


def _batch_one_by_one(requests: Sequence[PricingRequest]) -> _Batch:
    # Validates in request order, so the first bad field of the first bad request is the one reported.
    prepared = [_prepare(request) for request in requests]
    return _Batch(
        remaining_home=np.array([p.remaining_home for p in prepared], dtype=float),
        remaining_away=np.array([p.remaining_away for p in prepared], dtype=float),
        rho=np.array([p.rho for p in prepared], dtype=float),
        home_scores=[p.home_score for p in prepared],
        away_scores=[p.away_score for p in prepared],
        full_time=np.array([p.full_time for p in prepared], dtype=bool),
        margin_rows=np.array([_DEFAULT_MARGIN_ROW if p.margin_row is None else p.margin_row for p in prepared]),
        methods=[p.method for p in prepared],
        ladders=[p.ladder for p in prepared],
        requests=requests,
    )


_REAL_FIELDS = attrgetter(
    "home_goals", "away_goals", "rho", "minute", "stoppage_minutes", "red_card_own_factor", "red_card_opponent_factor"
)
_COUNT_FIELDS = attrgetter("home_score", "away_score", "home_red_cards", "away_red_cards")
_TRADER_FIELDS = attrgetter("suspended", "suspended_market_types", "margins", "price_overrides", "price_ladder")
# Trader settings of a request that leaves everything at the house defaults (the common case).
_PLAIN_TRADER_SETTINGS: tuple[bool, frozenset[str], dict[str, float], dict[Any, float], tuple[float, ...]] = (
    False,
    frozenset(),
    {},
    {},
    DEFAULT_PRICE_LADDER,
)
_SMALL_BATCH = 8
_PHASE_CODES = {phase: code for code, phase in enumerate(PHASES)}
_PRE_MATCH, _FULL_TIME = PHASES.index("pre_match"), PHASES.index("full_time")
# Valid ranges of _REAL_FIELDS (rho is checked against the expectations separately) and of _COUNT_FIELDS.
_REAL_LOW = np.array([MIN_GOAL_EXPECTATION, MIN_GOAL_EXPECTATION, -np.inf, 0.0, 0.0, 0.05, 1.0])
_REAL_HIGH = np.array([MAX_GOAL_EXPECTATION, MAX_GOAL_EXPECTATION, np.inf, MAX_MINUTE, MAX_STOPPAGE_MINUTES, 1.0, 3.0])
_COUNT_HIGH = np.array([MAX_SCORE, MAX_SCORE, MAX_RED_CARDS, MAX_RED_CARDS])


def _batch(requests: Sequence[PricingRequest]) -> _Batch:
    """Validate and convert a batch with array operations; any doubt falls back to :func:`_batch_one_by_one`.

    The array checks accept exactly what :func:`_prepare` accepts when every number is a plain ``int``/``float``.
    Anything else (another number type, any failed check) is re-validated one request at a time, which raises the
    error the one-by-one path always raised. Requests with non-default trader settings get those checked
    individually, in request order, as :func:`_prepare` would after its (here already passed) numeric checks.
    """
    if len(requests) < _SMALL_BATCH or set(map(type, requests)) != {PricingRequest}:
        # A handful of requests is cheaper to check one by one than with ~30 array operations.
        return _batch_one_by_one(requests)
    reals = list(map(_REAL_FIELDS, requests))
    counts = list(map(_COUNT_FIELDS, requests))
    phase_codes = list(map(_PHASE_CODES.get, map(attrgetter("phase"), requests)))
    if (
        not set(map(type, chain.from_iterable(reals))) <= {float, int}
        or not set(map(type, chain.from_iterable(counts))) <= {int}
        or not set(map(type, map(attrgetter("suspended"), requests))) <= {bool}
        or None in phase_codes
    ):
        return _batch_one_by_one(requests)
    try:
        real = np.array(reals, dtype=float)
        count = np.array(counts, dtype=np.int64)
    except OverflowError:
        return _batch_one_by_one(requests)
    phase = np.array(phase_codes)
    home, away, rho, minute, stoppage, own, opponent = real.T
    home_score, away_score, home_reds, away_reds = count.T
    # rho_bounds term by term (every goal expectation is positive once the range check passes).
    with np.errstate(divide="ignore", invalid="ignore"):
        rho_low, rho_high = -1.0 / np.maximum(home, away), np.minimum(1.0, 1.0 / (home * away))
    pre_match = phase == _PRE_MATCH
    valid = (
        ((real >= _REAL_LOW) & (real <= _REAL_HIGH)).all()  # NaN and infinities fail here too
        and ((count >= 0) & (count <= _COUNT_HIGH)).all()
        and ((rho >= rho_low) & (rho <= rho_high)).all()
        and not (pre_match & ((minute != 0) | (stoppage != 0) | count.any(axis=1))).any()
    )
    if not valid:
        return _batch_one_by_one(requests)

    margin_rows = np.broadcast_to(_DEFAULT_MARGIN_ROW, (len(requests), len(MARKET_TYPES)))
    methods = list(map(attrgetter("margin_method"), requests))
    ladders = [_DEFAULT_LADDER] * len(requests)
    plain = list(map(_PLAIN_TRADER_SETTINGS.__eq__, map(_TRADER_FIELDS, requests)))
    if not all(plain) or not set(methods) <= set(MARGIN_METHODS):
        margin_rows = margin_rows.copy()
        for index, request in enumerate(requests):
            if plain[index] and request.margin_method in MARGIN_METHODS:
                continue
            margin_row = _check_trader_settings(request)
            if margin_row is not None:
                margin_rows[index] = margin_row
            check_margin_method(request.margin_method)
            ladders[index] = ladder_array(request.price_ladder)

    share = remaining_shares(phase, minute, stoppage)
    remaining_home = home * share * own**home_reds * opponent**away_reds
    remaining_away = away * share * own**away_reds * opponent**home_reds
    # As in _prepare: red cards can lift one side above its pre-match rate; keep every Dixon-Coles factor >= 0.
    needs_clip = (share != 1.0) | (home_reds != 0) | (away_reds != 0)
    if needs_clip.any():
        with np.errstate(divide="ignore"):
            largest, product = np.maximum(remaining_home, remaining_away), remaining_home * remaining_away
            lowest = np.where(largest > 0, -1.0 / largest, -np.inf)
            highest = np.where(product > 0, np.minimum(1.0, 1.0 / product), 1.0)
        rho = np.where(needs_clip, np.minimum(np.maximum(rho, lowest), highest), rho)
    return _Batch(
        remaining_home=remaining_home,
        remaining_away=remaining_away,
        rho=rho,
        home_scores=home_score.tolist(),
        away_scores=away_score.tolist(),
        full_time=phase == _FULL_TIME,
        margin_rows=margin_rows,
        methods=methods,
        ladders=ladders,
        requests=requests,
    )


# ---------------------------------------------------------------------------------------------------------------
# Pricing.
_STATUS_OPEN, _STATUS_SUSPENDED, _STATUS_CLOSED, _STATUS_SETTLED = range(4)


def _main_line_indices(features: np.ndarray) -> tuple[list[int], list[int]]:
    """Per fixture, the index of the main total-goals line and of the main handicap in ``_HANDICAP_GRID``."""
    # Main total line: the half line above the score whose over is nearest evens (remaining goals >= 1 .. 10).
    first_over = _column(_TOTAL_GE, _TOTAL_RANGE, 1)
    over = features[:, first_over : first_over + _TOTAL_MAIN_CANDIDATES]
    main_total = np.abs(over - 0.5).argmin(axis=1)
    # Main handicap: the quarter-step line whose home side is nearest evens.
    # One gather for all four stake columns of every candidate line (a few numpy calls fewer per book).
    stakes = features[:, _GRID_GATHER]  # (fixtures, 4, candidates)
    win = 0.5 * (stakes[:, 0] + stakes[:, 1])
    lose = 0.5 * (stakes[:, 2] + stakes[:, 3])
    stake = win + lose
    home_side = np.divide(win, stake, out=np.full_like(win, 0.5), where=stake > 0)
    main_handicap = np.abs(home_side - 0.5).argmin(axis=1)
    return main_total.tolist(), main_handicap.tolist()


@dataclass(frozen=True, slots=True)
class BookGroup:
    """Fixtures of a batch whose books share one structure: the same markets and selections in the same order.

    Lines can differ between the fixtures of a group (main total and handicap lines move with the prices), so they
    are an array; everything else about the structure is shared.
    """

    fixture_indices: np.ndarray  # (fixtures,) positions of these fixtures in the request sequence
    market_types: tuple[str, ...]  # (markets,)
    market_starts: np.ndarray  # (markets,) first selection column of each market
    selection_names: tuple[str, ...]  # (selections,)
    lines: np.ndarray  # (fixtures, markets) line of each market, NaN for markets without a line
    statuses: np.ndarray  # (fixtures, markets) index into MARKET_STATUSES
    fair_probabilities: np.ndarray  # (fixtures, selections)
    probabilities: np.ndarray  # (fixtures, selections) offered probability, 1 / price (1.0 when not offered)
    prices: np.ndarray  # (fixtures, selections) ladder price (1.0 when not offered)


@dataclass(frozen=True, slots=True)
class BatchBook:
    """Every fixture's book of a batch as numpy arrays, one :class:`BookGroup` per book structure.

    The same numbers as :func:`price_fixtures`, without building ~130 objects per fixture.
    """

    fixture_count: int
    groups: tuple[BookGroup, ...]


def _price_group(layouts: list[_Layout], indices: list[int], batch: _Batch, features: np.ndarray) -> tuple:
    """Price fixtures whose books share one structure (same markets and selection counts, lines may differ).

    Returns ``(one_layout, fair, probabilities, prices, status_codes)`` as arrays, one row per fixture.
    """
    shape = layouts[0]
    count = len(indices)
    distinct = list({id(layout): layout for layout in layouts}.values())
    if len(distinct) == 1:
        gathered = features[:, shape.gather]  # (fixtures, 4, selections)
        settled = shape.settled
    else:
        # Each row gathers its own layout's columns: one table row per distinct layout in the group.
        position = {id(layout): index for index, layout in enumerate(distinct)}
        pick = np.array([position[id(layout)] for layout in layouts], dtype=np.intp)
        columns = np.stack([d.gather for d in distinct])[pick]
        gathered = np.take_along_axis(features, columns.reshape(count, -1), axis=1).reshape(columns.shape)
        settled = np.stack([d.settled for d in distinct])[pick]
    win = 0.5 * (gathered[:, 0] + gathered[:, 1])
    lose = 0.5 * (gathered[:, 2] + gathered[:, 3])
    stake = win + lose
    # where= skips the 0 / 0 of a fully pushed stake (no warning, so no errstate context to enter); it stays 0.5.
    fair = np.divide(win, stake, out=np.full_like(win, 0.5), where=stake > 0)
    # A market is closed once one of its selections can no longer lose: there is nothing left to price.
    closed = np.add.reduceat((lose <= 0.0) & (win > 0.0), shape.starts, axis=1) > 0
    if batch.full_time.any():
        settled = settled | batch.full_time[indices, None]
    offered_mask = ~(closed | settled)

    overrounds = np.where(offered_mask, batch.margin_rows[indices][:, shape.type_codes], 0.0)
    method, ladder = batch.methods[indices[0]], batch.ladders[indices[0]]
    offered = offered_probabilities(
        fair, shape.starts, shape.columns, shape.fair_sums, overrounds, method, PRICING_BOOKSUM_TOLERANCE
    )
    targets = shape.fair_sums * (1.0 + overrounds)
    probabilities, prices, unreachable = round_to_ladder_checked(
        offered, shape.starts, shape.columns, targets, ladder, offered_mask
    )
    if unreachable is not None:
        # No ladder price reaches the target (a coarse ladder or a large margin): not offered rather than offered
        # below target, so the market is closed like a decided one.
        closed = closed | unreachable
        offered_mask = offered_mask & ~unreachable
    if not offered_mask.all():
        selection_offered = offered_mask[:, shape.columns]
        probabilities = np.where(selection_offered, probabilities, NOT_OFFERED_PRICE)
        prices = np.where(selection_offered, prices, NOT_OFFERED_PRICE)

    status_codes = np.where(settled, _STATUS_SETTLED, np.where(closed, _STATUS_CLOSED, _STATUS_OPEN))
    for row, index in enumerate(indices):
        request = batch.requests[index]
        if request.suspended or request.suspended_market_types or request.suspended_markets:
            targeted = _suspension_mask(layouts[row], request)
            status_codes[row] = np.where(
                (status_codes[row] == _STATUS_OPEN) & targeted, _STATUS_SUSPENDED, status_codes[row]
            )
        if request.price_overrides:
            overrides = request.price_overrides
            selection_offered = offered_mask[row, shape.columns]
            unbalanced = _apply_overrides(
                layouts[row], probabilities[row], prices[row], overrides, selection_offered, targets[row], ladder
            )
            for market in unbalanced:
                if status_codes[row, market] == _STATUS_OPEN:
                    status_codes[row, market] = _STATUS_SUSPENDED
    return len(distinct) == 1, fair, probabilities, prices, status_codes


def _build_books(
    layouts: list[_Layout],
    one_layout: bool,
    fair: np.ndarray,
    probabilities: np.ndarray,
    prices: np.ndarray,
    status_codes: np.ndarray,
) -> list[tuple[Market, ...]]:
    # Field by field over the whole group with map(): no Python loop per selection, one builder call per object.
    shape = layouts[0]
    count, width = fair.shape
    selections = list(
        map(
            _SelectionBuilder,
            shape.names * count,
            fair.ravel().tolist(),
            probabilities.ravel().tolist(),
            prices.ravel().tolist(),
        )
    )
    per_market: list[tuple[Selection, ...]] = []
    for row in range(count):
        book_selections = selections[row * width : (row + 1) * width]
        book_markets = map(tuple, map(book_selections.__getitem__, shape.slices))
        per_market.extend(cast(Iterable[tuple[Selection, ...]], book_markets))
    lines = shape.lines * count if one_layout else list(chain.from_iterable(layout.lines for layout in layouts))
    statuses = list(map(MARKET_STATUSES.__getitem__, status_codes.ravel().tolist()))
    # The builders turn into Market/Selection as they are built (see _MarketBuilder): the casts say so to mypy.
    markets = cast(list[Market], list(map(_MarketBuilder, shape.types * count, lines, statuses, per_market)))
    size = len(shape.types)
    return [tuple(markets[row * size : (row + 1) * size]) for row in range(count)]


def _apply_overrides(
    layout: _Layout,
    probabilities: np.ndarray,
    prices: np.ndarray,
    overrides: Mapping[tuple[str, float | None, str], float],
    offered: np.ndarray,
    targets: np.ndarray,
    ladder: np.ndarray,
) -> list[int]:
    """Set the overridden prices and price the rest of each overridden market around them, in place.

    The other selections of the market keep their shape and share what the overrides leave of the market's target
    booksum, rounded to the ladder like any price. Returns the markets that even so sum below their fair sum (an
    override so long that the rest cannot make up the book): offering those would guarantee a punter backing every
    selection a profit, so the caller suspends them.
    """
    # Lines come and go in-play: an override for a line not in the current book is skipped, not an error.
    fixed_by_market: dict[int, list[int]] = {}
    for (market_type, line, name), price in overrides.items():
        index = layout.keys.get((market_type, None if line is None else _line_value(float(line)), name))
        if index is None or not offered[index]:
            continue
        probabilities[index] = 1.0 / float(price)
        prices[index] = float(price)
        fixed_by_market.setdefault(int(layout.columns[index]), []).append(index)
    unbalanced = []
    for market, fixed in fixed_by_market.items():
        low, high = layout.bounds[market]
        rest = np.array([column for column in range(low, high) if column not in fixed], dtype=np.intp)
        if rest.size:
            # What the overrides leave of the target, never quite nothing: the rest then goes to the longest rung.
            room = max(float(targets[market]) - float(probabilities[fixed].sum()), 1e-9)
            shape = probabilities[rest]
            rest_probabilities, rest_prices, _ = round_to_ladder_checked(
                (shape * (room / shape.sum()))[None, :],
                _ONE_MARKET_START,
                np.zeros(rest.size, dtype=np.intp),
                np.array([[room]]),
                ladder,
            )
            probabilities[rest], prices[rest] = rest_probabilities[0], rest_prices[0]
        if float(probabilities[low:high].sum()) < float(layout.fair_sums[market]):
            unbalanced.append(market)
    return unbalanced


_ONE_MARKET_START = np.zeros(1, dtype=np.intp)


def _price_batch(requests: Sequence[PricingRequest]) -> list[tuple[list[int], list[_Layout], tuple]]:
    """Validate and price a batch: per book structure, the fixtures' indices, layouts and priced arrays."""
    batch = _batch(requests)
    count = len(requests)
    matrices = dixon_coles_matrices(batch.remaining_home, batch.remaining_away, batch.rho)
    features = matrices.reshape(count, _N * _N) @ _FEATURE_WEIGHTS
    main_total, main_handicap = _main_line_indices(features)
    groups: dict[tuple, list[int]] = {}
    layouts: list[_Layout] = []
    for index, (home_score, away_score, total_index, handicap_index, method, ladder) in enumerate(
        zip(batch.home_scores, batch.away_scores, main_total, main_handicap, batch.methods, batch.ladders, strict=True)
    ):
        main_total_line = home_score + away_score + total_index + 0.5
        # Threshold x on the remaining difference corresponds to the home line -x - current difference.
        main_handicap_line = -_HANDICAP_THRESHOLDS[handicap_index] - (home_score - away_score)
        layouts.append(_layout(home_score, away_score, main_total_line, main_handicap_line))
        # The score fixes the book's structure except that a main total line of goals + 0.5 drops the quarter and
        # whole lines below it; fixtures sharing a structure are priced in one vectorised pass.
        key = (home_score, away_score, total_index == 0, method, id(ladder))
        groups.setdefault(key, []).append(index)
    priced = []
    for indices in groups.values():
        rows = features if len(indices) == count else features[indices]
        group_layouts = [layouts[i] for i in indices]
        priced.append((indices, group_layouts, _price_group(group_layouts, indices, batch, rows)))
    return priced


# ---------------------------------------------------------------------------------------------------------------
# One fixture (price_fixture): the same numbers as the batch pipeline for a batch of one, with the per-call numpy
# and Python overhead cut: scalar validation with one fast check, the 2x2 Dixon-Coles factors as Python floats,
# 1-D main-line search, margins/targets cached on the layout when every market is offered, and one book of objects.
_FIRST_OVER_COLUMN = _column(_TOTAL_GE, _TOTAL_RANGE, 1)
_HALF_GRID = np.full(_HANDICAP_GRID.size, 0.5)


def _main_lines_single(features: np.ndarray) -> tuple[int, int]:
    """:func:`_main_line_indices` for one fixture's feature row ``(1, features)``: the same values and argmins."""
    row = features[0]
    over = row[_FIRST_OVER_COLUMN : _FIRST_OVER_COLUMN + _TOTAL_MAIN_CANDIDATES] - 0.5
    main_total = int(np.abs(over, out=over).argmin())
    stakes = row.take(_GRID_GATHER)  # (4, candidates): win, win, lose, lose
    halves = stakes[0::2] + stakes[1::2]
    halves *= 0.5  # rows: win, lose
    win = halves[0]
    stake = win + halves[1]
    home_side = np.divide(win, stake, out=_HALF_GRID.copy(), where=stake > 0)
    home_side -= 0.5
    return main_total, int(np.abs(home_side, out=home_side).argmin())


def _price_single(request: PricingRequest) -> tuple[Market, ...]:
    """One fixture's book, equal to ``price_fixtures`` on a batch of that one request (see the section comment)."""
    remaining_home, remaining_away, rho, home_score, away_score, full_time, margin_row, method, ladder = (
        _prepare_values(request)
    )
    features = dixon_coles_matrix(remaining_home, remaining_away, rho).reshape(1, _N * _N) @ _FEATURE_WEIGHTS
    total_index, handicap_index = _main_lines_single(features)
    layout = _layout(
        home_score,
        away_score,
        home_score + away_score + total_index + 0.5,
        -_HANDICAP_THRESHOLDS[handicap_index] - (home_score - away_score),
    )
    starts, columns = layout.starts, layout.columns
    gathered = features[0].take(layout.gather)  # (4, selections): win, win, lose, lose
    halves = gathered[0::2] + gathered[1::2]
    halves *= 0.5
    win, lose = halves[0:1], halves[1:2]
    stake = win + lose
    fair = np.divide(win, stake, out=layout.half.copy(), where=stake > 0)
    can_close = (lose <= 0.0) & (win > 0.0)
    # Settled and closed markets follow from the layout and which selections can no longer lose: their masks,
    # targets and statuses are cached by that value (every market offered being the most common pattern).
    decided = _decided(layout, full_time, can_close, bool(can_close.any()))
    if margin_row is None:
        booksums, targets = decided.booksums, decided.targets
    else:
        priced_mask = ~(decided.closed | decided.settled)
        overrounds = np.where(priced_mask, margin_row[None, :][:, layout.type_codes], 0.0)
        booksums, targets = 1.0 + overrounds, layout.fair_sums * (1.0 + overrounds)
    scale = layout.scale
    normalised = fair / scale
    offered = _apply_normalised(normalised, booksums, starts, columns, method, PRICING_BOOKSUM_TOLERANCE) * scale
    probabilities, prices, unreachable = round_to_ladder_checked(
        offered, starts, columns, targets, ladder, decided.priced
    )
    statuses: Sequence[str] = decided.statuses
    selection_offered = decided.selection_offered
    if unreachable is not None:
        # As in _price_group: a market no ladder price can bring to its target is closed, not offered.
        closed = decided.closed | unreachable
        offered_mask = ~(closed | decided.settled)
        selection_offered = offered_mask[0, columns]
        codes = np.where(decided.settled, _STATUS_SETTLED, np.where(closed, _STATUS_CLOSED, _STATUS_OPEN))
        statuses = list(map(MARKET_STATUSES.__getitem__, codes[0].tolist()))
    if selection_offered is not None:
        probabilities = np.where(selection_offered, probabilities, NOT_OFFERED_PRICE)
        prices = np.where(selection_offered, prices, NOT_OFFERED_PRICE)
    if request.suspended or request.suspended_market_types or request.suspended_markets:
        targeted = _suspension_mask(layout, request).tolist()
        statuses = [
            _SUSPENDED if status == _OPEN and hit else status for status, hit in zip(statuses, targeted, strict=True)
        ]
    if request.price_overrides:
        if selection_offered is None:
            selection_offered = np.ones(len(layout.names), dtype=bool)
        unbalanced = _apply_overrides(
            layout, probabilities[0], prices[0], request.price_overrides, selection_offered, targets[0], ladder
        )
        if unbalanced:
            statuses = [
                _SUSPENDED if m in unbalanced and status == _OPEN else status for m, status in enumerate(statuses)
            ]
    return _build_book(layout, fair[0].tolist(), probabilities[0].tolist(), prices[0].tolist(), statuses)


_OPEN, _SUSPENDED = MARKET_STATUSES[_STATUS_OPEN], MARKET_STATUSES[_STATUS_SUSPENDED]
_CLOSED = MARKET_STATUSES[_STATUS_CLOSED]


def _suspension_mask(layout: _Layout, request: PricingRequest) -> np.ndarray:
    """Which of the book's markets the trader's suspensions target: all of them, whole types, or single lines."""
    if request.suspended:
        return np.ones(len(layout.types), dtype=bool)
    targeted = np.isin(layout.type_codes, [MARKET_TYPES.index(t) for t in request.suspended_market_types])
    if request.suspended_markets:
        targeted |= _market_mask(layout, request.suspended_markets)
    return targeted


def _market_mask(layout: _Layout, markets: frozenset[tuple[str, float]]) -> np.ndarray:
    """Which of the book's markets are among ``markets`` ((type, line) pairs; a line not offered now matches none)."""
    wanted = {(market_type, _line_value(float(line))) for market_type, line in markets}
    return np.array([(t, line) in wanted for t, line in zip(layout.types, layout.lines, strict=True)], dtype=bool)


def _build_book(
    layout: _Layout, fair: list[float], probabilities: list[float], prices: list[float], statuses: Sequence[str]
) -> tuple[Market, ...]:
    """One book's frozen objects, equal to those :func:`_build_books` makes (the GC is paused for the burst)."""
    collector_was_enabled = gc.isenabled()
    gc.disable()
    try:
        selections = list(map(_SelectionBuilder, layout.names, fair, probabilities, prices))
        per_market = cast(Iterable[tuple[Selection, ...]], map(tuple, map(selections.__getitem__, layout.slices)))
        return cast(tuple[Market, ...], tuple(map(_MarketBuilder, layout.types, layout.lines, statuses, per_market)))
    finally:
        if collector_was_enabled:
            gc.enable()


def price_fixtures_arrays(requests: Sequence[PricingRequest]) -> BatchBook:
    """Price the full book of many fixtures at once and return the numbers as arrays, not objects.

    The same validation, probabilities, prices and statuses as :func:`price_fixtures` (which builds its objects
    from these arrays); use it when the consumer works with arrays, e.g. to publish a whole batch.

    Parameters
    ----------
    requests : sequence of PricingRequest
        One request per fixture.

    Returns
    -------
    BatchBook
        One :class:`BookGroup` per book structure; ``group.fixture_indices`` maps its rows back to ``requests``.

    Raises
    ------
    PricingInputError
        If any request is invalid; the message names the field.
    """
    if not requests:
        return BatchBook(fixture_count=0, groups=())
    groups = []
    for indices, layouts, (one_layout, fair, probabilities, prices, status_codes) in _price_batch(requests):
        shape = layouts[0]
        if one_layout:
            lines = np.broadcast_to(shape.line_values, (len(indices), shape.line_values.size))
        else:
            lines = np.stack([layout.line_values for layout in layouts])
        groups.append(
            BookGroup(
                fixture_indices=np.array(indices, dtype=np.intp),
                market_types=shape.types,
                market_starts=shape.starts,
                selection_names=shape.names,
                lines=lines,
                statuses=status_codes,
                fair_probabilities=fair,
                probabilities=probabilities,
                prices=prices,
            )
        )
    return BatchBook(fixture_count=len(requests), groups=tuple(groups))


def price_fixtures(requests: Sequence[PricingRequest]) -> list[tuple[Market, ...]]:
    """Price the full book of many fixtures at once.

    Parameters
    ----------
    requests : sequence of PricingRequest
        One request per fixture.

    Returns
    -------
    list of tuple of Market
        Books in request order. Markets appear in a fixed order: match result, double chance, draw no bet,
        total goals by line, both teams to score, correct score, Asian handicap by line, team totals.

    Raises
    ------
    PricingInputError
        If any request is invalid; the message names the field.
    """
    if not requests:
        return []
    if len(requests) == 1:
        return [_price_single(requests[0])]
    priced = _price_batch(requests)
    books: list[tuple[Market, ...] | None] = [None] * len(requests)
    # A batch allocates ~130 objects per fixture, none of them cyclic: letting the cyclic collector rescan the
    # growing heap during that burst costs more than the pricing itself.
    collector_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for indices, layouts, arrays in priced:
            for index, book in zip(indices, _build_books(layouts, *arrays), strict=True):
                books[index] = book
    finally:
        if collector_was_enabled:
            gc.enable()
    return books  # type: ignore[return-value]


def price_fixture(request: PricingRequest) -> tuple[Market, ...]:
    """Price the full book of one fixture.

    Parameters
    ----------
    request : PricingRequest
        Goal expectations, match state, margins and trader settings.

    Returns
    -------
    tuple of Market
        Every market of the book, all derived from one score matrix (order as in :func:`price_fixtures`).

    Raises
    ------
    PricingInputError
        If the request is invalid; the message names the field and the reason.
    """
    return _price_single(request)
