"""The demo's price board shows each fixture's newest book, whatever order MQTT delivers them in."""

from __future__ import annotations

from local_engine.session import PriceBoard


def _book(revision: int) -> dict:
    return {"fixture_id": "FX-1", "revision": revision}


def test_an_older_book_never_replaces_a_newer_one() -> None:
    # Given a board that has shown book 7
    board = PriceBoard()
    board.on_message("trading/v1/fixtures/FX-1/prices", _book(7))

    # When a delayed book 5 arrives, then book 8
    board.on_message("trading/v1/fixtures/FX-1/prices", _book(5))
    shown_after_late_book = board.books["FX-1"]["revision"]
    board.on_message("trading/v1/fixtures/FX-1/prices", _book(8))

    # Then the late book was counted but not shown, and the newer one replaced book 7
    assert shown_after_late_book == 7
    assert board.books["FX-1"]["revision"] == 8
    assert board.updates == 3
