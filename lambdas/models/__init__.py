"""Pydantic models of everything that crosses a boundary: feed events, fixture state, price messages."""
