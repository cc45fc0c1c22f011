"""The infrastructure tier uses the session-wide synthesized apps (`dev_app`, `prod_app`) from tests/conftest.py."""
