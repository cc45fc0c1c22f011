"""The console's local server: the built site, a generated config.json, and nothing else from the disk."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from local_engine.console_server import ConsoleServer, local_config


def fetch(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback only
            return response.status, response.read(), response.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers["Content-Type"]


def test_it_serves_the_page_the_bundle_and_the_local_config(console_site: Path) -> None:
    # Given the built site and a local configuration
    config = local_config(
        trader_api_url="http://127.0.0.1:9/v1/", query_api_url="http://127.0.0.1:9/v1", websocket_url="ws://127.0.0.1:8"
    )

    # When it is served
    with ConsoleServer(console_site, config) as server:
        page = fetch(server.url)
        bundle = fetch(f"{server.url}vendor/mqtt.min.js")
        served_config = fetch(f"{server.url}config.json")
        outside = fetch(f"{server.url}../../../../etc/passwd")
        source = fetch(f"{server.url}package.json")

    # Then the page, the MQTT bundle and the config are there, with their types; nothing outside the site is
    assert page[0] == 200 and page[2].startswith("text/html") and b'src="vendor/mqtt.min.js"' in page[1]
    assert bundle[0] == 200 and bundle[2].startswith("text/javascript") and len(bundle[1]) > 100_000
    assert served_config[0] == 200 and json.loads(served_config[1]) == {
        "stage": "local",
        "traderApiUrl": "http://127.0.0.1:9/v1",
        "queryApiUrl": "http://127.0.0.1:9/v1",
        "auth": {"mode": "local"},
        "realtime": {"mode": "local", "url": "ws://127.0.0.1:8", "topicFilter": "trading/v1/fixtures/+/prices"},
    }
    assert outside[0] == 404
    assert source[0] == 404  # package.json stays in web/console: only the page's own files are built


def test_building_without_the_mqtt_bundle_says_what_to_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given no npm install of web/console
    monkeypatch.setattr("local_engine.console_server.MQTT_BUNDLE", tmp_path / "missing" / "mqtt.min.js")
    from local_engine.console_server import ConsoleBundleMissing, build_site

    # When the site is built, then the error names the command
    with pytest.raises(ConsoleBundleMissing, match="make build"):
        build_site(tmp_path / "site")
