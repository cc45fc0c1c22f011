"""The full book of a fixture, pre-match or in-play, from one Dixon–Coles matrix of remaining goals.

Pipeline, vectorised over a batch of fixtures:

1. validate each request and turn it into remaining goal expectations (clock, red cards) and the current score;
2. build every fixture's remaining-goals matrix and, with one matrix product, the distributions of remaining
   total goals, goal difference and each side's goals;
3. lay those out as one "feature" row per fixture (``P(X >= k)`` and ``P(X <= k)`` for each distribution,
   result, both-to-score and correct-score cells);
4. every selection is then two gathers from that row: the probability that its stake wins and that it loses
   (a quarter line is the average of its two half stakes), its fair probability being ``win / (win + lose)``;
5. margins are solved for every market at once and prices rounded to the ladder;
6. only then are the output dataclasses built.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from lambdas.pricing.margins import (
    DEFAULT_MARGIN_METHOD,
    DEFAULT_PRICE_LADDER,
    check_margin_method,
    check_overround,
    ladder_array,
    offered_probabilities,
    round_to_ladder,
)
from lambdas.pricing.model import (
    DEFAULT_RED_CARD_OPPONENT_FACTOR,
    DEFAULT_RED_CARD_OWN_FACTOR,
    DEFAULT_RHO,
    MATRIX_SIZE,
    MAX_MINUTE,
    MAX_RED_CARDS,
    MAX_SCORE,
    MAX_STOPPAGE_MINUTES,
    PHASES,
    PricingInputError,
    check_finite,
    check_goal_expectation,
    check_rho,
    dixon_coles_matrices,
    remaining_share,
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


# Building ~130 frozen dataclasses per book dominates the cost of a batch; setting the slots directly skips the
# generated __init__'s frozen-setattr detour and is about a third faster. The objects are identical.
_new_object = object.__new__
_set_name, _set_fair, _set_probability, _set_price = (
    Selection.name.__set__,  # type: ignore[attr-defined]
    Selection.fair_probability.__set__,  # type: ignore[attr-defined]
    Selection.probability.__set__,  # type: ignore[attr-defined]
    Selection.price.__set__,  # type: ignore[attr-defined]
)
_set_type, _set_line, _set_status, _set_selections = (
    Market.type.__set__,  # type: ignore[attr-defined]
    Market.line.__set__,  # type: ignore[attr-defined]
    Market.status.__set__,  # type: ignore[attr-defined]
    Market.selections.__set__,  # type: ignore[attr-defined]
)


def _selection(name: str, fair: float, probability: float, price: float) -> Selection:
    selection = _new_object(Selection)
    _set_name(selection, name)
    _set_fair(selection, fair)
    _set_probability(selection, probability)
    _set_price(selection, price)
    return selection


def _market(market_type: str, line: float | None, status: str, selections: tuple[Selection, ...]) -> Market:
    market = _new_object(Market)
    _set_type(market, market_type)
    _set_line(market, line)
    _set_status(market, status)
    _set_selections(market, selections)
    return market


# ---------------------------------------------------------------------------------------------------------------
# Feature row layout. For a distribution of remaining goals X on lo..hi, "ge" holds P(X >= k) and "le" P(X <= k)
# for k = lo-1 .. hi+1, so any threshold clips into range and "cannot happen" is an exact zero.
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
_HOME_GE = _DIFF_LE + _WIDE
_HOME_LE = _HOME_GE + _NARROW
_AWAY_GE = _HOME_LE + _NARROW
_AWAY_LE = _AWAY_GE + _NARROW
_MISC = _AWAY_LE + _NARROW
_HOME_WIN, _DRAW, _AWAY_WIN, _NOT_HOME, _NOT_DRAW, _NOT_AWAY, _BTTS_YES, _BTTS_NO = range(_MISC, _MISC + 8)
_CS_CELLS = (CORRECT_SCORE_FURTHER_GOALS + 1) ** 2
_CS = _MISC + 8
_CS_NOT = _CS + _CS_CELLS + 1
_FEATURES = _CS_NOT + _CS_CELLS + 1


def _indicator_matrix() -> np.ndarray:
    # One matrix product maps the flattened score matrix onto the pmfs of total, difference, home and away goals.
    home, away = np.divmod(np.arange(_N * _N), _N)
    width = 2 * (2 * _N - 1) + 2 * _N
    indicator = np.zeros((_N * _N, width))
    rows = np.arange(_N * _N)
    indicator[rows, home + away] = 1.0
    indicator[rows, (2 * _N - 1) + (home - away + _N - 1)] = 1.0
    indicator[rows, 2 * (2 * _N - 1) + home] = 1.0
    indicator[rows, 2 * (2 * _N - 1) + _N + away] = 1.0
    return indicator


_INDICATOR = _indicator_matrix()


def _ge_le(pmf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    at_most = np.cumsum(pmf, axis=-1)
    at_least = np.cumsum(pmf[..., ::-1], axis=-1)[..., ::-1]
    pad_shape = pmf.shape[:-1] + (1,)
    zeros = np.zeros(pad_shape)
    ge = np.concatenate((at_least[..., :1], at_least, zeros), axis=-1)
    le = np.concatenate((zeros, at_most, at_most[..., -1:]), axis=-1)
    return ge, le


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
    win_first: np.ndarray
    win_second: np.ndarray
    lose_first: np.ndarray
    lose_second: np.ndarray
    fair_sums: np.ndarray
    type_codes: np.ndarray
    settled: np.ndarray
    keys: dict[tuple[str, float | None, str], int]


def _line_value(value: float) -> float:
    # Lines are multiples of 0.25: round away representation noise so JSON shows 2.5, not 2.4999999.
    return round(value * 4) / 4


@lru_cache(maxsize=4096)
def _layout(home_score: int, away_score: int, main_total_line: float, main_handicap_line: float) -> _Layout:
    markets: list[tuple[str, float | None, bool, float, list[tuple[str, tuple[int, int, int, int]]]]] = []
    same = lambda column: (column, column)  # noqa: E731
    pair = lambda win, lose: (*same(win), *same(lose))  # noqa: E731
    markets.append(
        (
            "match_result",
            None,
            False,
            1.0,
            [
                ("home", pair(_HOME_WIN, _NOT_HOME)),
                ("draw", pair(_DRAW, _NOT_DRAW)),
                ("away", pair(_AWAY_WIN, _NOT_AWAY)),
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
                ("home_or_draw", pair(_NOT_AWAY, _AWAY_WIN)),
                ("home_or_away", pair(_NOT_DRAW, _DRAW)),
                ("draw_or_away", pair(_NOT_HOME, _HOME_WIN)),
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
                ("home", pair(_HOME_WIN, _AWAY_WIN)),
                ("away", pair(_AWAY_WIN, _HOME_WIN)),
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
                ("yes", pair(_BTTS_YES, _BTTS_NO)),
                ("no", pair(_BTTS_NO, _BTTS_YES)),
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

    types, lines, names, bounds, starts, fair_sums, codes, settled = [], [], [], [], [], [], [], []
    columns, cols = [], []
    for index, (market_type, line, is_settled, fair_sum, selections) in enumerate(markets):
        start = len(names)
        starts.append(start)
        bounds.append((start, start + len(selections)))
        types.append(market_type)
        lines.append(line)
        fair_sums.append(fair_sum)
        codes.append(MARKET_TYPES.index(market_type))
        settled.append(is_settled)
        for name, selection_columns in selections:
            names.append(name)
            columns.append(index)
            cols.append(selection_columns)
    gathered = np.array(cols, dtype=np.intp)
    keys = {(types[m], lines[m], names[s]): s for m, (first, end) in enumerate(bounds) for s in range(first, end)}
    return _Layout(
        types=tuple(types),
        lines=tuple(lines),
        names=tuple(names),
        bounds=tuple(bounds),
        starts=np.array(starts, dtype=np.intp),
        columns=np.array(columns, dtype=np.intp),
        win_first=gathered[:, 0],
        win_second=gathered[:, 1],
        lose_first=gathered[:, 2],
        lose_second=gathered[:, 3],
        fair_sums=np.array(fair_sums),
        type_codes=np.array(codes, dtype=np.intp),
        settled=np.array(settled),
        keys=keys,
    )


# Candidate handicap thresholds on the remaining goal difference, in quarter steps, to find the main line.
_HANDICAP_GRID = np.arange(-24, 25) / 4.0
_GRID_COLUMNS = np.array([_over_columns(_DIFF_GE, _DIFF_LE, _DIFF_RANGE, x) for x in _HANDICAP_GRID], dtype=np.intp)
_TOTAL_MAIN_CANDIDATES = 10  # half lines goals+0.5 .. goals+9.5
_DEFAULT_MARGIN_ROW = np.array([DEFAULT_MARGINS[t] for t in MARKET_TYPES])


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
    if not isinstance(request.suspended, (bool, np.bool_)):
        raise PricingInputError("suspended", f"must be true or false, got {request.suspended!r}")
    unknown = set(request.suspended_market_types).difference(MARKET_TYPES)
    if unknown:
        raise PricingInputError("suspended_market_types", f"unknown market types {sorted(unknown)}")
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


def _prepare(request: PricingRequest) -> _Prepared:
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
    margin_row = _check_trader_settings(request)
    method = check_margin_method(request.margin_method)
    ladder = ladder_array(request.price_ladder)
    share = remaining_share(phase, minute, stoppage)
    remaining_home = home * share * own**home_reds * opponent**away_reds
    remaining_away = away * share * own**away_reds * opponent**home_reds
    if share != 1.0 or home_reds or away_reds:
        # Red cards can lift one side above its pre-match rate; keep every Dixon-Coles factor non-negative.
        lowest, highest = rho_bounds(remaining_home, remaining_away)
        rho = min(max(rho, lowest), highest)
    return _Prepared(
        remaining_home,
        remaining_away,
        rho,
        home_score,
        away_score,
        phase == "full_time",
        margin_row,
        method,
        ladder,
        request,
    )


# ---------------------------------------------------------------------------------------------------------------
# Pricing.
def _feature_rows(prepared: Sequence[_Prepared]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feature rows plus each fixture's main total-goals and handicap candidate index."""
    count = len(prepared)
    home = np.fromiter((p.remaining_home for p in prepared), float, count)
    away = np.fromiter((p.remaining_away for p in prepared), float, count)
    rho = np.fromiter((p.rho for p in prepared), float, count)
    home_score = np.fromiter((p.home_score for p in prepared), np.intp, count)
    away_score = np.fromiter((p.away_score for p in prepared), np.intp, count)
    matrices = dixon_coles_matrices(home, away, rho)
    distributions = matrices.reshape(count, _N * _N) @ _INDICATOR
    span = 2 * _N - 1
    total_and_difference = distributions[:, : 2 * span].reshape(count, 2, span)
    teams = distributions[:, 2 * span :].reshape(count, 2, _N)
    wide_ge, wide_le = _ge_le(total_and_difference)
    team_ge, team_le = _ge_le(teams)

    rows = np.arange(count)
    difference = home_score - away_score
    diff_ge, diff_le = wide_ge[:, 1], wide_le[:, 1]
    low = _DIFF_RANGE[0] - 1
    home_win = diff_ge[rows, np.clip(1 - difference, low, -low) - low]
    away_win = diff_le[rows, np.clip(-1 - difference, low, -low) - low]
    draw_index = -difference - _DIFF_RANGE[0]
    in_range = (draw_index >= 0) & (draw_index < span)
    draw = np.where(in_range, total_and_difference[rows, 1, np.clip(draw_index, 0, span - 1)], 0.0)
    nil_home = home_score == 0
    nil_away = away_score == 0
    no_btts = nil_home * teams[:, 0, 0] + nil_away * teams[:, 1, 0] - (nil_home & nil_away) * matrices[:, 0, 0]
    cells = matrices[:, : CORRECT_SCORE_FURTHER_GOALS + 1, : CORRECT_SCORE_FURTHER_GOALS + 1].reshape(count, -1)
    other = np.maximum(1.0 - cells.sum(axis=1), 0.0)
    misc = np.stack(
        (home_win, draw, away_win, draw + away_win, home_win + away_win, home_win + draw, 1.0 - no_btts, no_btts),
        axis=1,
    )
    scores = np.concatenate((cells, other[:, None]), axis=1)
    features = np.concatenate(
        (
            wide_ge[:, 0],
            wide_le[:, 0],
            diff_ge,
            diff_le,
            team_ge[:, 0],
            team_le[:, 0],
            team_ge[:, 1],
            team_le[:, 1],
            misc,
            scores,
            1.0 - scores,
        ),
        axis=1,
    )

    # Main total line: the half line above the score whose over is nearest evens.
    over = wide_ge[:, 0, 2 : 2 + _TOTAL_MAIN_CANDIDATES]
    main_total = np.abs(over - 0.5).argmin(axis=1)
    # Main handicap: the quarter-step line whose home side is nearest evens.
    win = 0.5 * (features[:, _GRID_COLUMNS[:, 0]] + features[:, _GRID_COLUMNS[:, 1]])
    lose = 0.5 * (features[:, _GRID_COLUMNS[:, 2]] + features[:, _GRID_COLUMNS[:, 3]])
    with np.errstate(invalid="ignore", divide="ignore"):
        home_side = np.where(win + lose > 0, win / (win + lose), 0.5)
    main_handicap = np.abs(home_side - 0.5).argmin(axis=1)
    return features, main_total, main_handicap


_STATUS_OPEN, _STATUS_SUSPENDED, _STATUS_CLOSED, _STATUS_SETTLED = range(4)


def _price_group(layouts: list[_Layout], group: list[_Prepared], features: np.ndarray) -> list[tuple[Market, ...]]:
    """Price fixtures whose books share one structure (same markets and selection counts, lines may differ)."""
    shape = layouts[0]
    distinct = list({id(layout): layout for layout in layouts}.values())
    if len(distinct) == 1:
        pick = np.zeros(len(group), dtype=np.intp)
    else:
        position = {id(layout): index for index, layout in enumerate(distinct)}
        pick = np.array([position[id(layout)] for layout in layouts], dtype=np.intp)
    # Each row gathers its own layout's columns: one table row per distinct layout in the group.
    columns = np.stack([np.stack((d.win_first, d.win_second, d.lose_first, d.lose_second)) for d in distinct])[pick]
    gathered = np.take_along_axis(features, columns.reshape(len(group), -1), axis=1).reshape(columns.shape)
    win = 0.5 * (gathered[:, 0] + gathered[:, 1])
    lose = 0.5 * (gathered[:, 2] + gathered[:, 3])
    stake = win + lose
    with np.errstate(invalid="ignore", divide="ignore"):
        fair = np.where(stake > 0, win / stake, 0.5)
    # A market is closed once one of its selections can no longer lose: there is nothing left to price.
    closed = np.add.reduceat((lose <= 0.0) & (win > 0.0), shape.starts, axis=1) > 0
    settled = np.stack([d.settled for d in distinct])[pick]
    full_time = np.array([p.full_time for p in group])
    settled |= full_time[:, None]
    offered_mask = ~(closed | settled)

    margin_rows = np.array([_DEFAULT_MARGIN_ROW if p.margin_row is None else p.margin_row for p in group])
    overrounds = np.where(offered_mask, margin_rows[:, shape.type_codes], 0.0)
    offered = offered_probabilities(fair, shape.starts, shape.columns, shape.fair_sums, overrounds, group[0].method)
    targets = shape.fair_sums * (1.0 + overrounds)
    probabilities, prices = round_to_ladder(offered, shape.starts, shape.columns, targets, group[0].ladder)
    selection_offered = offered_mask[:, shape.columns]
    probabilities = np.where(selection_offered, probabilities, NOT_OFFERED_PRICE)
    prices = np.where(selection_offered, prices, NOT_OFFERED_PRICE)

    status_codes = np.where(settled, _STATUS_SETTLED, np.where(closed, _STATUS_CLOSED, _STATUS_OPEN))
    suspended_rows = [row for row, p in enumerate(group) if p.request.suspended or p.request.suspended_market_types]
    for row in suspended_rows:
        request = group[row].request
        by_type = np.isin(shape.type_codes, [MARKET_TYPES.index(t) for t in request.suspended_market_types])
        targeted = np.ones_like(by_type) if request.suspended else by_type
        status_codes[row] = np.where(
            (status_codes[row] == _STATUS_OPEN) & targeted, _STATUS_SUSPENDED, status_codes[row]
        )

    books = []
    names, types, bounds = shape.names, shape.types, shape.bounds
    status_names = MARKET_STATUSES
    for row, prepared in enumerate(group):
        selections = list(map(_selection, names, fair[row].tolist(), probabilities[row].tolist(), prices[row].tolist()))
        layout = layouts[row]
        if prepared.request.price_overrides:
            _apply_overrides(layout, selections, prepared.request.price_overrides, selection_offered[row])
        statuses = [status_names[code] for code in status_codes[row].tolist()]
        books.append(
            tuple(map(_market, types, layout.lines, statuses, [tuple(selections[first:end]) for first, end in bounds]))
        )
    return books


def _apply_overrides(
    layout: _Layout,
    selections: list[Selection],
    overrides: Mapping[tuple[str, float | None, str], float],
    offered: np.ndarray,
) -> None:
    # Lines come and go in-play: an override for a line not in the current book is skipped, not an error.
    for (market_type, line, name), price in overrides.items():
        index = layout.keys.get((market_type, None if line is None else _line_value(float(line)), name))
        if index is None or not offered[index]:
            continue
        fair = selections[index].fair_probability
        selections[index] = _selection(name, fair, 1.0 / float(price), float(price))


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
    prepared = [_prepare(request) for request in requests]
    if not prepared:
        return []
    features, main_total, main_handicap = _feature_rows(prepared)
    groups: dict[tuple, list[int]] = {}
    layouts: list[_Layout] = []
    for index, (item, total_index, handicap_index) in enumerate(
        zip(prepared, main_total.tolist(), main_handicap.tolist(), strict=True)
    ):
        goals = item.home_score + item.away_score
        main_total_line = goals + total_index + 0.5
        # Threshold x on the remaining difference corresponds to the home line -x - current difference.
        main_handicap_line = -float(_HANDICAP_GRID[handicap_index]) - (item.home_score - item.away_score)
        layouts.append(_layout(item.home_score, item.away_score, main_total_line, main_handicap_line))
        # The score fixes the book's structure except that a main total line of goals + 0.5 drops the quarter and
        # whole lines below it; fixtures sharing a structure are priced in one vectorised pass.
        key = (item.home_score, item.away_score, total_index == 0, item.method, id(item.ladder))
        groups.setdefault(key, []).append(index)
    books: list[tuple[Market, ...] | None] = [None] * len(prepared)
    # A batch allocates ~130 objects per fixture, none of them cyclic: letting the cyclic collector rescan the
    # growing heap during that burst costs more than the pricing itself.
    collector_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for indices in groups.values():
            group = [prepared[i] for i in indices]
            rows = features if len(indices) == len(prepared) else features[indices]
            for index, book in zip(indices, _price_group([layouts[i] for i in indices], group, rows), strict=True):
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
    return price_fixtures((request,))[0]
