"""Football pricing engine: one Dixon–Coles score matrix per fixture, every market priced from it.

Pure Python and numpy; no AWS. See docs/pricing.md for the model, the book and the valid input ranges.
"""

from lambdas.pricing.engine import (
    DEFAULT_MARGINS,
    MARKET_STATUSES,
    MARKET_TYPES,
    NOT_OFFERED_PRICE,
    BatchBook,
    BookGroup,
    Market,
    PricingRequest,
    Selection,
    price_fixture,
    price_fixtures,
    price_fixtures_arrays,
)
from lambdas.pricing.margins import (
    DEFAULT_MARGIN_METHOD,
    DEFAULT_PRICE_LADDER,
    MARGIN_METHODS,
    apply_margin,
    remove_margin,
)
from lambdas.pricing.model import (
    DEFAULT_RED_CARD_OPPONENT_FACTOR,
    DEFAULT_RED_CARD_OWN_FACTOR,
    DEFAULT_RHO,
    PricingInputError,
    goal_expectations_from_supremacy,
    score_matrix,
)
from lambdas.pricing.odds import dixon_coles_from_odds, goal_expectations_from_odds

__all__ = [
    "BatchBook",
    "BookGroup",
    "DEFAULT_MARGINS",
    "DEFAULT_MARGIN_METHOD",
    "DEFAULT_PRICE_LADDER",
    "DEFAULT_RED_CARD_OPPONENT_FACTOR",
    "DEFAULT_RED_CARD_OWN_FACTOR",
    "DEFAULT_RHO",
    "MARGIN_METHODS",
    "MARKET_STATUSES",
    "MARKET_TYPES",
    "NOT_OFFERED_PRICE",
    "Market",
    "PricingInputError",
    "PricingRequest",
    "Selection",
    "apply_margin",
    "dixon_coles_from_odds",
    "goal_expectations_from_odds",
    "goal_expectations_from_supremacy",
    "price_fixture",
    "price_fixtures",
    "price_fixtures_arrays",
    "remove_margin",
    "score_matrix",
]
