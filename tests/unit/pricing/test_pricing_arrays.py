"""The array-level batch API: the same book as the objects, as numpy arrays grouped by book structure."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lambdas.pricing import (
    MARKET_STATUSES,
    BatchBook,
    PricingInputError,
    PricingRequest,
    price_fixtures,
    price_fixtures_arrays,
)


def mixed_requests() -> list[PricingRequest]:
    requests = [PricingRequest(0.6 + 0.1 * k, 0.5 + 0.07 * k) for k in range(10)]
    requests += [
        PricingRequest(1.5, 1.2, phase="in_play", minute=30.0 + k, home_score=k % 3, away_score=k % 2)
        for k in range(10)
    ]
    requests.append(PricingRequest(1.4, 1.0, phase="full_time", home_score=2, away_score=1))
    requests.append(PricingRequest(1.4, 1.0, suspended=True, margin_method="shin"))
    return requests


def test_arrays_hold_exactly_the_numbers_of_the_priced_objects() -> None:
    # Given a mixed batch: pre-match, in-play at several scores, full time, suspended, Shin margins
    requests = mixed_requests()

    # When it is priced as arrays and as objects
    arrays = price_fixtures_arrays(requests)
    books = price_fixtures(requests)

    # Then every fixture appears in exactly one group, and each row equals its book field by field
    assert isinstance(arrays, BatchBook)
    assert arrays.fixture_count == len(requests)
    covered = sorted(index for group in arrays.groups for index in group.fixture_indices.tolist())
    assert covered == list(range(len(requests)))
    for group in arrays.groups:
        for row, index in enumerate(group.fixture_indices.tolist()):
            book = books[index]
            selections = [selection for market in book for selection in market.selections]
            assert [market.type for market in book] == list(group.market_types)
            assert [selection.name for selection in selections] == list(group.selection_names)
            assert [market.status for market in book] == [MARKET_STATUSES[c] for c in group.statuses[row]]
            assert [market.line for market in book] == [
                None if math.isnan(line) else line for line in group.lines[row].tolist()
            ]
            assert [s.fair_probability for s in selections] == group.fair_probabilities[row].tolist()
            assert [s.probability for s in selections] == group.probabilities[row].tolist()
            assert [s.price for s in selections] == group.prices[row].tolist()
            first_selections = [group.selection_names[start] for start in group.market_starts.tolist()]
            assert first_selections == [market.selections[0].name for market in book]


def test_an_empty_batch_gives_an_empty_batch_book() -> None:
    # Given no requests / When priced as arrays / Then there is nothing to report
    arrays = price_fixtures_arrays([])
    assert arrays.fixture_count == 0
    assert arrays.groups == ()


def test_offered_prices_are_ladder_prices_with_probability_their_inverse() -> None:
    # Given a pre-match batch
    arrays = price_fixtures_arrays([PricingRequest(1.2 + 0.05 * k, 1.0) for k in range(12)])

    # When / Then every offered probability is exactly one over its price, and prices are above one
    for group in arrays.groups:
        assert np.array_equal(group.probabilities, 1.0 / group.prices)
        assert (group.prices >= 1.0).all()


def test_a_bad_request_is_reported_by_field_as_for_objects() -> None:
    # Given a batch with one bad goal expectation
    requests = mixed_requests()
    requests[3] = PricingRequest(9.0, 1.0)

    # When it is priced as arrays / Then the error names the field, as price_fixtures would
    with pytest.raises(PricingInputError) as caught:
        price_fixtures_arrays(requests)
    assert caught.value.field == "home_goals"
