"""Quote a fixture's full book from the command line and print it as JSON.

Examples
--------
python -m lambdas.pricing.cli --home-goals 1.6 --away-goals 1.1
python -m lambdas.pricing.cli --odds 2.10 3.40 3.60 --over25 1.95 1.90 --minute 60 --score 1-0 --red-cards 0-1
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import NoReturn

from lambdas.pricing.engine import DEFAULT_MARGINS, MARKET_TYPES, PricingRequest, price_fixture
from lambdas.pricing.margins import DEFAULT_MARGIN_METHOD, MARGIN_METHODS
from lambdas.pricing.model import DEFAULT_RHO, PricingInputError
from lambdas.pricing.odds import goal_expectations_from_odds


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints usage over several lines; the CLI contract is one line on stderr and a non-zero exit.
        self.exit(2, f"error: {message}\n")


def _pair(text: str) -> tuple[int, int]:
    home, separator, away = text.partition("-")
    if not separator or not home.isdigit() or not away.isdigit():
        raise argparse.ArgumentTypeError(f"expected H-A with whole numbers, e.g. 1-0, got {text!r}")
    return int(home), int(away)


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="price", description="Price a football fixture's full book and print it as JSON.")
    parser.add_argument("--home-goals", type=float, help="expected home goals for the whole match")
    parser.add_argument("--away-goals", type=float, help="expected away goals for the whole match")
    parser.add_argument("--odds", type=float, nargs=3, metavar=("HOME", "DRAW", "AWAY"), help="decimal 1X2 prices")
    parser.add_argument("--over25", type=float, nargs=2, metavar=("OVER", "UNDER"), help="decimal over/under 2.5")
    parser.add_argument("--rho", type=float, default=DEFAULT_RHO, help=f"Dixon-Coles rho (default {DEFAULT_RHO})")
    parser.add_argument("--minute", type=float, help="match minute; puts the fixture in play (default pre-match)")
    parser.add_argument("--score", type=_pair, default=(0, 0), help="current score H-A (default 0-0)")
    parser.add_argument("--red-cards", type=_pair, default=(0, 0), help="red cards H-A (default 0-0)")
    parser.add_argument("--margin", type=float, help="target overround in percent for every market, e.g. 5")
    parser.add_argument(
        "--margin-method",
        choices=MARGIN_METHODS,
        default=DEFAULT_MARGIN_METHOD,
        help=f"margin method (default {DEFAULT_MARGIN_METHOD})",
    )
    return parser


def _request(arguments: argparse.Namespace, parser: argparse.ArgumentParser) -> PricingRequest:
    by_goals = arguments.home_goals is not None or arguments.away_goals is not None
    by_odds = arguments.odds is not None or arguments.over25 is not None
    if by_goals == by_odds:
        parser.error("give either --home-goals X --away-goals Y or --odds HOME DRAW AWAY --over25 OVER UNDER")
    if by_goals:
        if arguments.home_goals is None or arguments.away_goals is None:
            parser.error("--home-goals and --away-goals go together")
        home_goals, away_goals = arguments.home_goals, arguments.away_goals
    else:
        if arguments.odds is None or arguments.over25 is None:
            parser.error("--odds and --over25 go together")
        home_goals, away_goals = goal_expectations_from_odds(
            *arguments.odds, *arguments.over25, rho=arguments.rho, margin_method=arguments.margin_method
        )
    in_play = arguments.minute is not None or arguments.score != (0, 0) or arguments.red_cards != (0, 0)
    margins = {}
    if arguments.margin is not None:
        margins = dict.fromkeys(MARKET_TYPES, arguments.margin / 100.0)
    return PricingRequest(
        home_goals=home_goals,
        away_goals=away_goals,
        rho=arguments.rho,
        phase="in_play" if in_play else "pre_match",
        minute=arguments.minute if arguments.minute is not None else 0.0,
        home_score=arguments.score[0],
        away_score=arguments.score[1],
        home_red_cards=arguments.red_cards[0],
        away_red_cards=arguments.red_cards[1],
        margins=margins,
        margin_method=arguments.margin_method,
    )


def book_as_dict(request: PricingRequest) -> dict:
    """The CLI's JSON document: the inputs used and every market of the book."""
    markets = price_fixture(request)
    return {
        "inputs": {
            "home_goals": request.home_goals,
            "away_goals": request.away_goals,
            "rho": request.rho,
            "phase": request.phase,
            "minute": request.minute,
            "score": f"{request.home_score}-{request.away_score}",
            "red_cards": f"{request.home_red_cards}-{request.away_red_cards}",
            "margins": {t: request.margins.get(t, DEFAULT_MARGINS[t]) for t in MARKET_TYPES},
            "margin_method": request.margin_method,
        },
        "markets": [
            {
                "type": market.type,
                "line": market.line,
                "status": market.status,
                "selections": [
                    {
                        "name": selection.name,
                        "fair_probability": selection.fair_probability,
                        "probability": selection.probability,
                        "price": selection.price,
                    }
                    for selection in market.selections
                ],
            }
            for market in markets
        ],
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, price the fixture and print the book; exit status 2 with one line on bad input."""
    parser = _parser()
    arguments = parser.parse_args(argv)
    try:
        document = book_as_dict(_request(arguments, parser))
    except PricingInputError as error:
        parser.exit(2, f"error: {error}\n")
    json.dump(document, sys.stdout, allow_nan=False, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
