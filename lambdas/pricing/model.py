"""Dixon–Coles score model: goal expectations, the in-play clock and the matrix of remaining goals.

Every market of a fixture is read from one matrix ``P[i, j]`` = probability that the home side scores ``i``
and the away side ``j`` more goals from now to the final whistle. Pre-match "from now" is the whole match.
The final score is the current score plus those remaining goals, so the same code prices pre-match and in-play.
"""

from __future__ import annotations

import math

import numpy as np

# Side of the square score matrix. Cells 0..14 are exact goal counts; the last cell holds "15 or more" so each
# team's marginal sums to one and every line the book offers (all well below 15 goals) is priced exactly.
MATRIX_SIZE = 16

# Dixon & Coles (1997) estimated a negative rho (more 0-0 and 1-1, fewer 1-0 and 0-1 than independence) on
# English league data; -0.10 is a conservative house default inside the range such fits give. Calibrate per league.
DEFAULT_RHO = -0.10

MIN_GOAL_EXPECTATION = 0.05
MAX_GOAL_EXPECTATION = 6.0
MIN_TOTAL_GOALS = 2 * MIN_GOAL_EXPECTATION
MAX_TOTAL_GOALS = 2 * MAX_GOAL_EXPECTATION

REGULATION_MINUTES = 90.0
HALF_TIME_MINUTE = 45.0
# Second-half added time the pre-match expectation is assumed to include when none has been announced;
# first-half added time is folded into the first half of the profile because the clock feed stops at 45.
DEFAULT_EXPECTED_STOPPAGE_MINUTES = 4.0
MAX_STOPPAGE_MINUTES = 20.0
MAX_MINUTE = REGULATION_MINUTES + MAX_STOPPAGE_MINUTES + 10.0
# Once the announced added time has run out the match still goes on until the whistle: keep half a minute of play.
MIN_REMAINING_MINUTES_IN_PLAY = 0.5

# Goal-rate profile r(t) = 1 + GOAL_RATE_RISE * min(t, 90) / 90: scoring rises through the match (Dixon & Robinson
# 1998, "A birth process model for association football matches"). 0.5 puts 45 % of regulation goals in the first
# half, the share usually reported for top European leagues; added time is played at the minute-90 rate.
GOAL_RATE_RISE = 0.5

# A red card multiplies the sanctioned side's remaining scoring rate by OWN and its opponent's by OPPONENT, once per
# card. Direction from Vecer, Kopriva & Ichiba (2009, J. Quant. Anal. Sports 5(1)) and Cervený, van Ours & van
# Tuijl (2018, Empirical Economics 55): the sanctioned team's rate falls, the opponent's rises. The magnitudes are
# round house defaults inside the range those studies report; they are request fields so traders can tune them.
DEFAULT_RED_CARD_OWN_FACTOR = 0.70
DEFAULT_RED_CARD_OPPONENT_FACTOR = 1.20
MAX_RED_CARDS = 4  # a fifth dismissal leaves six players and the match is abandoned (Laws of the Game, Law 3)
MAX_SCORE = 20

PHASES = ("pre_match", "in_play", "half_time", "full_time")


class PricingInputError(ValueError):
    """Bad pricing input; the message names the field and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def check_finite(field: str, value: object) -> float:
    """Return ``value`` as a float or raise :class:`PricingInputError` if it is not a finite real number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise PricingInputError(field, f"must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise PricingInputError(field, f"must be finite, got {number}")
    return number


def check_goal_expectation(field: str, value: object) -> float:
    """Validate one side's expected goals for the whole match (see ``MIN/MAX_GOAL_EXPECTATION``)."""
    number = check_finite(field, value)
    if not MIN_GOAL_EXPECTATION <= number <= MAX_GOAL_EXPECTATION:
        raise PricingInputError(
            field, f"must be between {MIN_GOAL_EXPECTATION} and {MAX_GOAL_EXPECTATION} goals, got {number}"
        )
    return number


def clamp_goal_expectation(value: float) -> float:
    """``value`` held inside the valid range: for results a rounding error past a bound, never for inputs."""
    return min(max(value, MIN_GOAL_EXPECTATION), MAX_GOAL_EXPECTATION)


def rho_bounds(home_goals: float, away_goals: float) -> tuple[float, float]:
    """Range of rho for which every Dixon–Coles factor tau is non-negative.

    Parameters
    ----------
    home_goals, away_goals : float
        Goal expectations the correction is applied with.

    Returns
    -------
    tuple of float
        ``(lowest, highest)``: ``max(-1/home, -1/away)`` and ``min(1, 1/(home*away))``.
    """
    largest = max(home_goals, away_goals)
    lowest = -1.0 / largest if largest > 0 else -math.inf
    product = home_goals * away_goals
    highest = min(1.0, 1.0 / product) if product > 0 else 1.0
    return lowest, highest


def check_rho(rho: object, home_goals: float, away_goals: float, field: str = "rho") -> float:
    """Validate rho against the Dixon–Coles non-negativity range for these expectations."""
    value = check_finite(field, rho)
    lowest, highest = rho_bounds(home_goals, away_goals)
    if not lowest <= value <= highest:
        raise PricingInputError(
            field,
            f"must be between {lowest:.6g} and {highest:.6g} for goal expectations {home_goals}/{away_goals} "
            f"(outside, a Dixon-Coles factor would be negative), got {value}",
        )
    return value


def cumulative_goal_rate(minute: float) -> float:
    """Integral of the goal-rate profile from kick-off to ``minute`` (in profile-minutes)."""
    if minute <= REGULATION_MINUTES:
        return minute + GOAL_RATE_RISE * minute * minute / (2.0 * REGULATION_MINUTES)
    at_ninety = REGULATION_MINUTES * (1.0 + GOAL_RATE_RISE / 2.0)
    return at_ninety + (1.0 + GOAL_RATE_RISE) * (minute - REGULATION_MINUTES)


_WHOLE_MATCH_RATE = cumulative_goal_rate(REGULATION_MINUTES + DEFAULT_EXPECTED_STOPPAGE_MINUTES)


def remaining_share(phase: str, minute: float, stoppage_minutes: float) -> float:
    """Share of the pre-match goal expectation still to come.

    Parameters
    ----------
    phase : str
        ``pre_match``, ``in_play``, ``half_time`` or ``full_time``.
    minute : float
        Match clock; above 90 means second-half added time. Ignored at half time (45) and full time.
    stoppage_minutes : float
        Added time announced for the second half (the fourth official's board). ``0`` means not announced yet,
        in which case ``DEFAULT_EXPECTED_STOPPAGE_MINUTES`` is assumed.

    Returns
    -------
    float
        Exactly ``1.0`` at kick-off with nothing announced, exactly ``0.0`` at full time.
    """
    if phase == "full_time":
        return 0.0
    if phase == "half_time":
        minute = HALF_TIME_MINUTE
    added = stoppage_minutes if stoppage_minutes > 0 else DEFAULT_EXPECTED_STOPPAGE_MINUTES
    end = REGULATION_MINUTES + added
    if phase == "in_play" and minute > end - MIN_REMAINING_MINUTES_IN_PLAY:
        # Play beyond the announced time: whatever is left is at the late-match rate.
        return (1.0 + GOAL_RATE_RISE) * MIN_REMAINING_MINUTES_IN_PLAY / _WHOLE_MATCH_RATE
    return (cumulative_goal_rate(end) - cumulative_goal_rate(minute)) / _WHOLE_MATCH_RATE


def remaining_shares(phases: np.ndarray, minutes: np.ndarray, stoppage_minutes: np.ndarray) -> np.ndarray:
    """:func:`remaining_share` for many fixtures at once, with the same floating-point operations.

    Parameters
    ----------
    phases : ndarray of int
        Index of each fixture's phase in :data:`PHASES`.
    minutes, stoppage_minutes : ndarray of float
        Match clock and announced second-half added time, as for :func:`remaining_share`.

    Returns
    -------
    ndarray
        Share of the pre-match goal expectation still to come, bit for bit equal to :func:`remaining_share`.
    """
    in_play, half_time, full_time = (phases == PHASES.index(name) for name in ("in_play", "half_time", "full_time"))
    minutes = np.where(half_time, HALF_TIME_MINUTE, minutes)
    added = np.where(stoppage_minutes > 0, stoppage_minutes, DEFAULT_EXPECTED_STOPPAGE_MINUTES)
    end = REGULATION_MINUTES + added
    shares = (_cumulative_goal_rates(end) - _cumulative_goal_rates(minutes)) / _WHOLE_MATCH_RATE
    overtime = in_play & (minutes > end - MIN_REMAINING_MINUTES_IN_PLAY)
    shares = np.where(overtime, (1.0 + GOAL_RATE_RISE) * MIN_REMAINING_MINUTES_IN_PLAY / _WHOLE_MATCH_RATE, shares)
    return np.where(full_time, 0.0, shares)


def _cumulative_goal_rates(minutes: np.ndarray) -> np.ndarray:
    # cumulative_goal_rate term by term, in the same order, so each element matches the scalar function exactly.
    regulation = minutes + GOAL_RATE_RISE * minutes * minutes / (2.0 * REGULATION_MINUTES)
    at_ninety = REGULATION_MINUTES * (1.0 + GOAL_RATE_RISE / 2.0)
    added_time = at_ninety + (1.0 + GOAL_RATE_RISE) * (minutes - REGULATION_MINUTES)
    return np.where(minutes <= REGULATION_MINUTES, regulation, added_time)


def poisson_pmfs(means: np.ndarray, size: int = MATRIX_SIZE) -> np.ndarray:
    """Poisson probabilities of 0..size-2 goals, the last column holding "size-1 or more".

    Parameters
    ----------
    means : ndarray, shape (n,)
        Expected goals, ``>= 0``.
    size : int
        Number of columns.

    Returns
    -------
    ndarray, shape (n, size)
        Rows sum to one.
    """
    means = np.asarray(means, dtype=float)
    # Recurrence p(k) = p(k-1) * mean / k: exact for a zero mean, unlike exp(k log mean - ...).
    ratios = means[:, None] / np.arange(1, size - 1, dtype=float)
    body = np.empty((means.shape[0], size))
    body[:, 0] = 1.0
    np.cumprod(ratios, axis=1, out=body[:, 1 : size - 1])
    body[:, : size - 1] *= np.exp(-means)[:, None]
    body[:, size - 1] = np.maximum(1.0 - body[:, : size - 1].sum(axis=1), 0.0)
    return body


def dixon_coles_matrices(home_goals: np.ndarray, away_goals: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """Score matrices of independent Poisson goals with the Dixon–Coles low-score factors.

    ``tau(0,0) = 1 - l*m*rho``, ``tau(0,1) = 1 + l*rho``, ``tau(1,0) = 1 + m*rho``, ``tau(1,1) = 1 - rho``,
    one elsewhere (Dixon & Coles 1997). The factors leave both marginals, and so the matrix sum, unchanged.

    Parameters
    ----------
    home_goals, away_goals, rho : ndarray, shape (n,)
        Expected goals of each side and the dependence parameter, within :func:`rho_bounds`.

    Returns
    -------
    ndarray, shape (n, MATRIX_SIZE, MATRIX_SIZE)
        ``[k, i, j]`` = probability of ``i`` home and ``j`` away goals for fixture ``k``.
    """
    count = home_goals.shape[0]
    both = poisson_pmfs(np.concatenate((home_goals, away_goals)))  # one pass for both sides: half the numpy calls
    home_pmf, away_pmf = both[:count], both[count:]
    matrix = home_pmf[:, :, None] * away_pmf[:, None, :]
    # The four factors in one array pass: 1 + c * rho with c = (-l*m, l, m, -1) gives bit for bit the same numbers
    # as the textbook forms (negation is exact and 1 + (-x) == 1 - x), with a few numpy calls instead of sixteen.
    coefficients = np.empty((count, 2, 2))
    np.multiply(home_goals, away_goals, out=coefficients[:, 0, 0])
    np.negative(coefficients[:, 0, 0], out=coefficients[:, 0, 0])
    coefficients[:, 0, 1] = home_goals
    coefficients[:, 1, 0] = away_goals
    coefficients[:, 1, 1] = -1.0
    coefficients *= rho[:, None, None]
    coefficients += 1.0
    matrix[:, :2, :2] *= coefficients
    return matrix


_POISSON_DIVISORS = np.arange(1, MATRIX_SIZE - 1, dtype=float)


def dixon_coles_matrix(home_goals: float, away_goals: float, rho: float) -> np.ndarray:
    """One fixture's score matrix: :func:`dixon_coles_matrices` for a single fixture, bit for bit, with less overhead.

    The Poisson rows use the same numpy operations as :func:`poisson_pmfs` on the same (2, size) shapes (so the
    ``exp`` and the pairwise sum of the "15 or more" cell give identical bits); the four Dixon–Coles factors
    ``1 + c * rho`` with ``c = (-l*m, l, m, -1)`` are Python floats, the same IEEE operations as the array pass.

    Parameters
    ----------
    home_goals, away_goals, rho : float
        Expected goals of each side and the dependence parameter, within :func:`rho_bounds`.

    Returns
    -------
    ndarray, shape (MATRIX_SIZE, MATRIX_SIZE)
        ``[i, j]`` = probability of ``i`` home and ``j`` away goals.
    """
    size = MATRIX_SIZE
    means = np.array(((home_goals,), (away_goals,)))
    body = np.empty((2, size))
    body[:, 0] = 1.0
    np.cumprod(means / _POISSON_DIVISORS, axis=1, out=body[:, 1 : size - 1])
    body[:, : size - 1] *= np.exp(-means)
    home_rest, away_rest = body[:, : size - 1].sum(axis=1).tolist()
    body[0, size - 1] = max(1.0 - home_rest, 0.0)
    body[1, size - 1] = max(1.0 - away_rest, 0.0)
    matrix = body[0, :, None] * body[1]
    corner = matrix[:2, :2]
    corner *= np.array(
        (
            (1.0 + -(home_goals * away_goals) * rho, 1.0 + home_goals * rho),
            (1.0 + away_goals * rho, 1.0 + -1.0 * rho),
        )
    )
    return matrix


def score_matrix(home_goals: float, away_goals: float, rho: float = DEFAULT_RHO) -> np.ndarray:
    """Pre-match final-score matrix of one fixture.

    Parameters
    ----------
    home_goals, away_goals : float
        Expected goals, each in ``[MIN_GOAL_EXPECTATION, MAX_GOAL_EXPECTATION]``.
    rho : float
        Dixon–Coles dependence, within :func:`rho_bounds`.

    Returns
    -------
    ndarray, shape (MATRIX_SIZE, MATRIX_SIZE)
        Sums to one; the last row/column holds "15 or more".

    Raises
    ------
    PricingInputError
        If an input is outside its valid range.
    """
    home = check_goal_expectation("home_goals", home_goals)
    away = check_goal_expectation("away_goals", away_goals)
    value = check_rho(rho, home, away)
    return dixon_coles_matrices(np.array([home]), np.array([away]), np.array([value]))[0]


def goal_expectations_from_supremacy(supremacy: float, total: float) -> tuple[float, float]:
    """Home and away goal expectations from supremacy (home minus away) and total expected goals.

    Parameters
    ----------
    supremacy : float
        Expected home goals minus expected away goals.
    total : float
        Expected goals of both sides together.

    Returns
    -------
    tuple of float
        ``((total + supremacy) / 2, (total - supremacy) / 2)``.

    Raises
    ------
    PricingInputError
        If either resulting expectation falls outside ``[MIN_GOAL_EXPECTATION, MAX_GOAL_EXPECTATION]``.
    """
    sup = check_finite("supremacy", supremacy)
    tot = check_finite("total", total)
    if not MIN_TOTAL_GOALS <= tot <= MAX_TOTAL_GOALS:
        raise PricingInputError("total", f"must be between {MIN_TOTAL_GOALS} and {MAX_TOTAL_GOALS} goals, got {tot}")
    home, away = (tot + sup) / 2.0, (tot - sup) / 2.0
    # Inputs at the bounds (supremacy 5.95 with total 6.05) land a rounding error past them: within that, clamp.
    tolerance = 1e-9
    if min(home, away) < MIN_GOAL_EXPECTATION - tolerance or max(home, away) > MAX_GOAL_EXPECTATION + tolerance:
        raise PricingInputError(
            "supremacy",
            f"{sup} with total {tot} gives expectations {home!r}/{away!r}, outside "
            f"[{MIN_GOAL_EXPECTATION}, {MAX_GOAL_EXPECTATION}]",
        )
    return clamp_goal_expectation(home), clamp_goal_expectation(away)
