"""Margins: turn fair probabilities into offered prices with a target overround, and back.

All solvers work on many markets at once. Probabilities are a 2-D array (one row per fixture, selections of
every market side by side along the columns); ``starts`` gives the first column of each market, so per-market
sums are ``np.add.reduceat(x, starts, axis=1)`` and nothing loops over markets in Python.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from typing import cast

import numpy as np

from lambdas.pricing.model import PricingInputError, check_finite

MARGIN_METHODS = ("power", "shin", "multiplicative")
DEFAULT_MARGIN_METHOD = "power"
MAX_OVERROUND = 0.5

# Solver tolerance on the booksum for the public helpers (apply_margin, remove_margin) and Shin.
BOOKSUM_TOLERANCE = 1e-13
# The book's power-method solve stops at the 1e-9: it approaches from above (booksum >= target), which
# saves one Newton pass per batch, and prices are rounded to a ladder far coarser than that anyway.
PRICING_BOOKSUM_TOLERANCE = 1e-9
_MAX_ITERATIONS = 200


def _betfair_ladder() -> tuple[float, ...]:
    # Betfair Exchange price increments: 1.01-2 by 0.01, 2-3 by 0.02, 3-4 by 0.05, 4-6 by 0.1, 6-10 by 0.2,
    # 10-20 by 0.5, 20-30 by 1, 30-50 by 2, 50-100 by 5, 100-1000 by 10.
    bands = (
        (1.01, 2, 0.01),
        (2, 3, 0.02),
        (3, 4, 0.05),
        (4, 6, 0.1),
        (6, 10, 0.2),
        (10, 20, 0.5),
        (20, 30, 1),
        (30, 50, 2),
        (50, 100, 5),
        (100, 1000, 10),
    )
    prices: list[float] = []
    for low, high, step in bands:
        count = round((high - low) / step)
        prices.extend(float(round(low + k * step, 2)) for k in range(count))
    prices.append(1000.0)
    return tuple(prices)


DEFAULT_PRICE_LADDER: tuple[float, ...] = _betfair_ladder()
_DEFAULT_LADDER_ARRAY = np.array(DEFAULT_PRICE_LADDER)
_ladder_cache: dict[tuple[float, ...], np.ndarray] = {DEFAULT_PRICE_LADDER: _DEFAULT_LADDER_ARRAY}


def ladder_array(ladder: Sequence[float]) -> np.ndarray:
    """Validate a price ladder and return it as a sorted float array (cached).

    Raises
    ------
    PricingInputError
        If the ladder is empty, not strictly increasing, or its lowest price is not above 1.
    """
    if ladder is DEFAULT_PRICE_LADDER:
        return _DEFAULT_LADDER_ARRAY
    key = tuple(ladder)
    cached = _ladder_cache.get(key)
    if cached is not None:
        return cached
    values = [check_finite("price_ladder", price) for price in key]
    if not values:
        raise PricingInputError("price_ladder", "must contain at least one price")
    if values[0] <= 1.0:
        raise PricingInputError("price_ladder", f"prices must be above 1.0, got {values[0]}")
    if any(b <= a for a, b in zip(values, values[1:], strict=False)):
        raise PricingInputError("price_ladder", "prices must be strictly increasing")
    array = np.array(values)
    if len(_ladder_cache) < 64:
        _ladder_cache[key] = array
    return array


def check_margin_method(method: object, field: str = "margin_method") -> str:
    """Return ``method`` if it is one of :data:`MARGIN_METHODS`, else raise :class:`PricingInputError`."""
    if method not in MARGIN_METHODS:
        raise PricingInputError(field, f"must be one of {', '.join(MARGIN_METHODS)}, got {method!r}")
    return method


def check_overround(value: object, field: str) -> float:
    """Validate a target overround, a fraction in ``[0, MAX_OVERROUND]``."""
    number = check_finite(field, value)
    if not 0.0 <= number <= MAX_OVERROUND:
        raise PricingInputError(field, f"must be a fraction between 0 and {MAX_OVERROUND}, got {number}")
    return number


def _segment_sum(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.add.reduceat(values, starts, axis=1)


def _monotone_newton(
    evaluate: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]],
    start: np.ndarray,
    low: float,
    high: float,
) -> np.ndarray:
    """Newton's method on a function that Newton approaches monotonically from the start point.

    ``evaluate(x)`` returns ``(value, slope, booksum_error)``. The callers pick functions that are convex and
    decreasing, or concave and increasing, so every step after the first lands on the same side of the root and
    the iterates converge monotonically and quadratically without a bracket; clipping to ``[low, high]`` keeps a
    wild first step inside the domain.
    """
    x = start
    for _ in range(_MAX_ITERATIONS):
        value, slope, error = evaluate(x)
        if np.abs(error).max(initial=0.0) <= BOOKSUM_TOLERANCE:
            break
        with np.errstate(divide="ignore", invalid="ignore"):
            step = x - value / slope
        # np.minimum/np.maximum rather than np.clip: same result, a fraction of the call overhead on small arrays.
        x = np.minimum(np.maximum(np.where(np.isfinite(step), step, x), low), high)
    return x


# Exponents stay strictly positive so that exp(k * log 0) stays exactly 0 for impossible selections.
_MIN_EXPONENT = 1e-12
_LOG_ZERO = -1e300
# Slopes of log(sum(q ** k)) are never positive; this stands in for an exact zero (every weight on q = 1) so the
# step is a finite clipped number instead of 0 / 0.
_FLATTEST_SLOPE = -1e-300


def _power(
    q: np.ndarray,
    booksum: np.ndarray,
    starts: np.ndarray,
    columns: np.ndarray,
    upper: float,
    tolerance: float = BOOKSUM_TOLERANCE,
) -> np.ndarray:
    """Exponent ``k`` per market with ``sum(q ** k) = booksum``, searched in ``(0, upper]``.

    Newton runs on ``f(k) = log(sum(q ** k)) - log(booksum)``, a log-sum-exp in ``k`` and so convex and decreasing:
    a Newton step from *any* point lands left of the root (the tangent lies below ``f``), and from there the
    iterates rise monotonically and quadratically. Left of the root the booksum is above target, so stopping at
    ``tolerance`` never leaves a market short of its margin. Used to remove margin (``remove_margin``,
    ``upper = inf``); adding margin has the faster :func:`_power_margin`.
    """
    log_q = np.log(np.where(q > 0, q, 1.0))
    log_q[q <= 0] = _LOG_ZERO
    # exp(k * -1e300) is exactly 0, but the slope weights need a finite log: exp(-745) is already 0 in doubles.
    finite_log_q = np.maximum(log_q, -745.0)
    log_booksum = np.log(booksum)
    exponents = np.ones(booksum.shape)
    for iteration in range(_MAX_ITERATIONS):
        powered = np.exp(exponents[..., columns] * log_q)
        total = np.add.reduceat(powered, starts, axis=-1)
        # The first step is always taken (k = 1 is not checked), as before the adding-margin solve moved out.
        if iteration and np.abs(total - booksum).max(initial=0.0) <= tolerance:
            break
        value = np.log(total) - log_booksum
        slope = np.minimum(np.add.reduceat(powered * finite_log_q, starts, axis=-1) / total, _FLATTEST_SLOPE)
        exponents = np.minimum(np.maximum(exponents - value / slope, _MIN_EXPONENT), upper)
    return exponents


# Newton steps every market takes before the one convergence check of _power_margin. Three reach the book's 1e-9
# (two-way markets and correct score reach ~1e-13) on every book with the default margins, measured on random
# pre-match and in-play books; lopsided markets with large custom margins take one or two more after the check.
_MARGIN_NEWTON_STEPS = 3


def _power_margin(
    q: np.ndarray,
    booksum: np.ndarray,
    starts: np.ndarray,
    columns: np.ndarray,
    tolerance: float = BOOKSUM_TOLERANCE,
) -> tuple[np.ndarray, np.ndarray]:
    """Exponents ``k`` in ``(0, 1]`` with ``sum(q ** k) = booksum`` per market, and the powered ``q ** k``.

    ``q`` sums to one per market and ``booksum >= 1``. Two functions of ``k`` share the root, and both are convex
    and decreasing, so a Newton step on either lands left of the root (booksum above target) from anywhere, and
    the larger of the two steps is the closer one:

    * ``f(k) = log(S) - log(B)`` with ``S = sum(q ** k)``: exact in one step for a balanced market, slow for a
      lopsided one (an exponential long shot rides on a nearly flat favourite);
    * ``F(k) = log(R) - log(B - P)``, splitting ``S`` into the favourite's ``P = max(q) ** k`` and the rest ``R``.
      ``log R`` is a log-sum-exp (convex) and ``-log(B - P)`` is minus the log of a positive, concave, increasing
      function (convex), so ``F`` is convex and decreasing; it is nearly linear when long shots carry the margin.
      Written as ``F = -log1p((B - S) / R)`` it stays accurate next to the root.

    The first step is taken from ``k = 1`` where ``q ** k`` is ``q`` itself (no ``exp``). After a fixed
    :data:`_MARGIN_NEWTON_STEPS` steps over every market at once there is one convergence check; markets still
    further than ``tolerance`` from their target (large custom margins on lopsided markets) keep stepping. The
    returned powered values are the ones the check summed, so the booksum of the offered probabilities is exactly
    the checked one. Markets at ``booksum <= 1`` keep ``k = 1``.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        # log 0 = -inf and exp(k * -inf) = 0 for k > 0: impossible selections stay exactly 0.
        log_q = np.log(q)
        finite_log_q = np.maximum(log_q, -745.0)
        # Weights of the four sums a step needs, in one reduceat: S, S' = dS/dk, R (all but the favourite), R'.
        # Tied favourites all count as "the favourite"; with nothing left in R, F is undefined (NaN) and f decides.
        rest = q < np.maximum.reduceat(q, starts, axis=-1).take(columns, axis=-1)
        weights = np.empty((4, *q.shape))
        weights[0] = 1.0
        weights[1] = finite_log_q
        weights[2] = rest
        np.multiply(rest, finite_log_q, out=weights[3])
        powered = q
        # k = 1 as a scalar: the first step broadcasts it, with the same numbers as an array of ones.
        exponents: np.ndarray | float = 1.0
        for iteration in range(_MAX_ITERATIONS):
            total, slope, rest_total, rest_slope = np.add.reduceat(powered * weights, starts, axis=-1)
            # The f-step as in the remove-margin loop (the flattest slope keeps a one-selection market finite).
            from_f = exponents - np.log(total / booksum) / np.minimum(slope / total, _FLATTEST_SLOPE)
            short = booksum - total
            split_slope = rest_slope / rest_total + (slope - rest_slope) / (short + rest_total)
            from_split = exponents + np.log1p(short / rest_total) / split_slope
            # fmax ignores the NaN of an undefined F.
            exponents = np.minimum(np.maximum(np.fmax(from_f, from_split), _MIN_EXPONENT), 1.0)
            if iteration + 1 >= _MARGIN_NEWTON_STEPS:
                exponents = np.where(booksum > 1.0, exponents, 1.0)
                powered = np.exp(cast(np.ndarray, exponents).take(columns, axis=-1) * log_q)
                if np.abs(np.add.reduceat(powered, starts, axis=-1) - booksum).max(initial=0.0) <= tolerance:
                    break
            else:
                powered = np.exp(cast(np.ndarray, exponents).take(columns, axis=-1) * log_q)
    return cast(np.ndarray, exponents), powered


def _apply_normalised(
    q: np.ndarray,
    booksum: np.ndarray,
    starts: np.ndarray,
    columns: np.ndarray,
    method: str,
    power_tolerance: float = BOOKSUM_TOLERANCE,
) -> np.ndarray:
    """Offered probabilities for markets whose fair probabilities ``q`` sum to one per market.

    ``power_tolerance`` bounds the power method's booksum error; it approaches the target from above, so a looser
    tolerance only ever leaves a market's booksum slightly over target. Shin approaches from below and always
    solves to ``BOOKSUM_TOLERANCE``.
    """
    if method == "multiplicative":
        return q * booksum[:, columns]
    if method == "power":
        # Adding margin needs k <= 1 because sum(q) = 1 <= booksum. The powered values are the offered ones.
        return _power_margin(q, booksum, starts, columns, power_tolerance)[1]
    # Shin (1993): offered pi_i = sqrt(B) * sqrt(z q_i + (1 - z) q_i^2), with the insider share z in [0, 1]
    # solving sum_i sqrt(z q_i + (1 - z) q_i^2) = sqrt(B) (the inverse of Strumbelj 2014, eq. 5).
    square = q * q
    spread = q - square
    reachable = _segment_sum(np.sqrt(q), starts) >= np.sqrt(booksum)
    # Unreachable markets solve a dummy target (z = 0) so the whole batch converges; they are replaced below.
    root_booksum = np.sqrt(np.where(reachable, booksum, 1.0))

    # sum_i sqrt(z q_i + (1 - z) q_i^2) is concave and increasing in z: Newton from z = 0 rises monotonically.
    def evaluate(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        inner = np.sqrt(square + z[:, columns] * spread)
        with np.errstate(divide="ignore", invalid="ignore"):
            slope_terms = np.where(inner > 0, spread / (2.0 * inner), 0.0)
        value = _segment_sum(inner, starts) - root_booksum
        return value, _segment_sum(slope_terms, starts), value * root_booksum

    insider = _monotone_newton(evaluate, np.zeros(booksum.shape), 0.0, 1.0)
    shin = root_booksum[:, columns] * np.sqrt(square + insider[:, columns] * spread)
    if reachable.all():
        return shin
    # Near-certain markets cannot reach the target even with z = 1: those fall back to the power method.
    fallback = _apply_normalised(q, booksum, starts, columns, "power", power_tolerance)
    return np.where(reachable[:, columns], shin, fallback)


def offered_probabilities(
    fair: np.ndarray,
    starts: np.ndarray,
    columns: np.ndarray,
    fair_sums: np.ndarray,
    overrounds: np.ndarray,
    method: str,
    power_tolerance: float = BOOKSUM_TOLERANCE,
) -> np.ndarray:
    """Apply each market's target overround to its fair probabilities, unrounded.

    Parameters
    ----------
    fair : ndarray, shape (rows, selections)
        Fair probabilities; each market's columns sum to ``fair_sums`` (1, or 2 for double chance).
    starts : ndarray of int, shape (markets,)
        First column of each market.
    columns : ndarray of int, shape (selections,)
        Market index of each column.
    fair_sums : ndarray, shape (markets,)
        Number of winning selections per outcome of each market.
    overrounds : ndarray, shape (rows, markets)
        Target overround per market as a fraction; the offered booksum is ``fair_sum * (1 + overround)``.
    method : str
        One of :data:`MARGIN_METHODS`.
    power_tolerance : float
        Booksum tolerance of the power method, which only ever errs above target (see :func:`_power`).

    Returns
    -------
    ndarray, shape (rows, selections)
        Offered probabilities whose per-market sums equal the targets within the tolerance.
    """
    scale = fair_sums[columns]
    normalised = fair / scale
    return _apply_normalised(normalised, 1.0 + overrounds, starts, columns, method, power_tolerance) * scale


def round_to_ladder(
    offered: np.ndarray,
    starts: np.ndarray,
    columns: np.ndarray,
    targets: np.ndarray,
    ladder: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Round offered probabilities to ladder prices without letting a market's booksum fall below its target.

    Prices are rounded down (shorter) to the ladder, which can only raise the booksum. A selection whose price
    would be below the ladder's first rung is pinned there; the probability it gives up is spread over the
    market's other selections in proportion before rounding. A market still short of its target after that is
    shortened rung by rung (see :func:`round_to_ladder_checked`).

    Parameters
    ----------
    offered : ndarray, shape (rows, selections)
        Unrounded offered probabilities.
    starts, columns : ndarray of int
        Market layout, as in :func:`offered_probabilities`.
    targets : ndarray, shape (rows, markets)
        Target booksum of each market.
    ladder : ndarray
        Allowed prices, strictly increasing, first above 1.

    Returns
    -------
    tuple of ndarray
        ``(probabilities, prices)`` with ``probabilities == 1 / prices``. A market that cannot reach its target
        even with every selection at the first rung is returned at the first rung (short of its target);
        :func:`round_to_ladder_checked` flags it.
    """
    probabilities, prices, _ = round_to_ladder_checked(offered, starts, columns, targets, ladder)
    return probabilities, prices


def round_to_ladder_checked(
    offered: np.ndarray,
    starts: np.ndarray,
    columns: np.ndarray,
    targets: np.ndarray,
    ladder: np.ndarray,
    priced: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """:func:`round_to_ladder`, plus the markets whose target the ladder cannot reach.

    After the rounding above, every market (of those ``priced``, a ``(rows, markets)`` mask; all when None) whose
    booksum is still below its target is shortened one rung at a time, always taking the move that adds the least
    booksum (ties: the leftmost selection), until it reaches the target. No price is ever lengthened, and markets
    already at or above target are untouched. The common path pays one per-market sum and one comparison.

    Returns
    -------
    tuple
        ``(probabilities, prices, unreachable)``; ``unreachable`` is None, or a ``(rows, markets)`` mask of the
        markets short of target even with every selection at the ladder's first rung (returned at that rung).
    """
    _, cap, prices_by_rung, probabilities_by_rung = _rounding_table(ladder)
    pinned = offered > cap
    if pinned.any():
        pinned_sum = _segment_sum(np.where(pinned, cap, 0.0), starts)
        free_sum = _segment_sum(np.where(pinned, 0.0, offered), starts)
        # max((target - pinned) / free, 1) where anything is free, else 1 (where= skips the division by zero).
        scale = np.empty_like(free_sum)
        scale.fill(1.0)
        np.divide(targets - pinned_sum, free_sum, out=scale, where=free_sum > 0)
        np.maximum(scale, 1.0, out=scale)
        # A pinned selection's offered * scale is at least offered (scale >= 1), so the cap takes it to the cap.
        offered = np.minimum(offered * scale[:, columns], cap)
    with np.errstate(divide="ignore"):
        raw_prices = 1.0 / offered
    # One searchsorted: the index of the first rung above the raw price picks the rung below it (the first rung
    # for a raw price below the ladder) from the padded tables.
    rungs = np.searchsorted(ladder, raw_prices, side="right")
    probabilities = probabilities_by_rung.take(rungs)
    prices = prices_by_rung.take(rungs)
    short = _segment_sum(probabilities, starts) < targets
    if priced is not None:
        short &= priced
    if not short.any():
        return probabilities, prices, None
    unreachable = _shorten_to_targets(probabilities, prices, rungs, starts, targets, short, ladder)
    return probabilities, prices, unreachable if unreachable.any() else None


def _shorten_to_targets(
    probabilities: np.ndarray,
    prices: np.ndarray,
    rungs: np.ndarray,
    starts: np.ndarray,
    targets: np.ndarray,
    short: np.ndarray,
    ladder: np.ndarray,
) -> np.ndarray:
    """Shorten the ``short`` markets in place until each booksum reaches its target; return the unreachable ones.

    Rare (a market pinned at the ladder's ends, a coarse custom ladder), so a plain loop per short market: a heap
    of each selection's next move one rung shorter, keyed by the booksum it adds, then the selection's column.
    ``rungs`` are the padded-table indices of :func:`_rounding_table` (table index ``t`` is ladder rung
    ``max(t - 1, 0)``; ``t <= 1`` is the first rung, from which no move is left).
    """
    _, cap, prices_by_rung, probabilities_by_rung = _rounding_table(ladder)
    # Booksum with every selection at the first rung: the most any ladder price can offer.
    floor = _segment_sum(np.full_like(probabilities, cap), starts)
    unreachable = short & (floor < targets)
    table = probabilities_by_rung.tolist()
    ends = [*starts[1:].tolist(), probabilities.shape[1]]
    for row, market in zip(*np.nonzero(short), strict=True):
        low, high = int(starts[market]), ends[market]
        if unreachable[row, market]:
            # Not enough even at the first rung: every selection there; the caller does not offer the market.
            probabilities[row, low:high] = probabilities_by_rung[1]
            prices[row, low:high] = prices_by_rung[1]
            continue
        positions = np.maximum(rungs[row, low:high], 1).tolist()
        moves = [(table[t - 1] - table[t], column, t) for column, t in enumerate(positions) if t > 1]
        heapq.heapify(moves)
        target = targets[row, market]
        total = float(np.add.reduce(probabilities[row, low:high]))
        while moves:
            # The running total can differ from the booksum by an ulp: the exact per-market sum decides.
            while total < target and moves:
                added, column, t = heapq.heappop(moves)
                total += added
                positions[column] = t = t - 1
                if t > 1:
                    heapq.heappush(moves, (table[t - 1] - table[t], column, t))
            chosen = np.array(positions)
            probabilities[row, low:high] = probabilities_by_rung.take(chosen)
            prices[row, low:high] = prices_by_rung.take(chosen)
            total = float(_segment_sum(probabilities[row : row + 1], starts)[0, market])
            if total >= target:
                break
        else:
            # Every move taken and still short by rounding: the floor sum said otherwise, so flag it anyway.
            unreachable[row, market] = total < target
    return unreachable


_rounding_tables: dict[int, tuple[np.ndarray, float, np.ndarray, np.ndarray]] = {}


def _rounding_table(ladder: np.ndarray) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """``(ladder, cap, prices, probabilities)`` for :func:`round_to_ladder`, cached per ladder array.

    ``prices[i]`` is the rung at or below a raw price whose ``searchsorted(..., side="right")`` index is ``i``:
    ``ladder[max(i - 1, 0)]``; ``probabilities = 1 / prices``; ``cap = 1 / ladder[0]``. The entry keeps its ladder
    alive, so an ``id`` in the cache cannot be reused by another array while it is stored.
    """
    entry = _rounding_tables.get(id(ladder))
    if entry is None or entry[0] is not ladder:
        prices = np.concatenate((ladder[:1], ladder))
        entry = (ladder, float(1.0 / ladder[0]), prices, 1.0 / prices)
        if len(_rounding_tables) >= 64:
            # Bounded, but still caching new ladders: the oldest entry makes room (dicts keep insertion order).
            _rounding_tables.pop(next(iter(_rounding_tables)))
        _rounding_tables[id(ladder)] = entry
    return entry


def apply_margin(
    fair_probabilities: Sequence[float], overround: float, method: str = DEFAULT_MARGIN_METHOD
) -> np.ndarray:
    """Offered probabilities of one market with booksum ``1 + overround``, before ladder rounding.

    Parameters
    ----------
    fair_probabilities : sequence of float
        Fair probabilities of the market's selections, summing to one.
    overround : float
        Target overround as a fraction, e.g. ``0.05``.
    method : str
        ``power`` (``p ** k``), ``shin`` (Shin 1993) or ``multiplicative`` (``p * (1 + overround)``).

    Returns
    -------
    ndarray
        Offered probabilities; prices are their reciprocals.

    Raises
    ------
    PricingInputError
        If the probabilities are not a distribution or the overround or method is invalid.
    """
    fair = _check_distribution(fair_probabilities)
    margin = check_overround(overround, "overround")
    check_margin_method(method)
    starts = np.zeros(1, dtype=np.intp)
    columns = np.zeros(fair.size, dtype=np.intp)
    return _apply_normalised(fair[None, :] / fair.sum(), np.array([[1.0 + margin]]), starts, columns, method)[0]


def _check_distribution(probabilities: Sequence[float]) -> np.ndarray:
    values = np.array([check_finite("fair_probabilities", p) for p in probabilities])
    if values.size < 2:
        raise PricingInputError("fair_probabilities", "a market needs at least two selections")
    if (values < 0).any() or abs(values.sum() - 1.0) > 1e-9:
        raise PricingInputError("fair_probabilities", f"must be non-negative and sum to 1, got sum {values.sum()}")
    return values


def remove_margin(prices: Sequence[float], method: str = DEFAULT_MARGIN_METHOD) -> np.ndarray:
    """Fair probabilities implied by one market's decimal prices (the inverse of :func:`apply_margin`).

    Parameters
    ----------
    prices : sequence of float
        Decimal prices of every selection of one market, each above 1.
    method : str
        ``power``: ``p_i = (1/o_i) ** k`` with ``k`` making them sum to one; ``shin``: Shin's insider model
        (Strumbelj 2014, eq. 5); ``multiplicative``: ``p_i = (1/o_i) / booksum``.

    Returns
    -------
    ndarray
        Fair probabilities summing to one.

    Raises
    ------
    PricingInputError
        If a price is not above 1, or for Shin if the booksum is not above 1.
    """
    check_margin_method(method)
    values = np.array([check_finite("prices", price) for price in prices])
    if values.size < 2:
        raise PricingInputError("prices", "a market needs at least two prices")
    if (values <= 1.0).any():
        raise PricingInputError("prices", f"decimal prices must be above 1, got {values.min()}")
    implied = 1.0 / values
    booksum = implied.sum()
    if method == "multiplicative":
        return implied / booksum
    if method == "power":
        starts = np.zeros(1, dtype=np.intp)
        columns = np.zeros(values.size, dtype=np.intp)
        exponent = _power(implied[None, :], np.ones((1, 1)), starts, columns, np.inf)[0, 0]
        return implied**exponent
    if booksum <= 1.0:
        raise PricingInputError("prices", f"Shin's method needs a booksum above 1, got {booksum}")
    low, high = 0.0, 1.0
    # sum_i p_i(z) falls from sqrt(booksum) at z = 0 through one at the insider share: bisect to machine precision.
    for _ in range(200):
        middle = 0.5 * (low + high)
        if _shin_fair(implied, booksum, middle).sum() > 1.0:
            low = middle
        else:
            high = middle
        if high - low < 1e-16:
            break
    return _shin_fair(implied, booksum, 0.5 * (low + high))


def _shin_fair(implied: np.ndarray, booksum: float, insider: float) -> np.ndarray:
    return (np.sqrt(insider * insider + 4.0 * (1.0 - insider) * implied * implied / booksum) - insider) / (
        2.0 * (1.0 - insider)
    )
