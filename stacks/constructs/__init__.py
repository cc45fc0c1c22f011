"""Logical units: each construct owns the resources of one capability."""
