"""The trader console served on loopback: the page (web/console), the vendored MQTT bundle and a config.json.

The same site directory is what the CDK app deploys to S3 behind CloudFront (``build_site``), so the page a
developer opens locally is the page traders get; only ``config.json`` differs (``local_config`` here, the
construct's deploy-time values in AWS).

    python -m local_engine.console_server build .build/console
    python -m local_engine.console_server serve --trader-api-url URL --query-api-url URL --websocket-url URL

With ``api_upstream`` the server also forwards ``/v1/...`` to the local gateway, as CloudFront forwards the
deployed page's ``/v1/*`` to the trader API: the page calls its APIs on its own origin, so no CORS is needed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONSOLE_SOURCE_DIR = PROJECT_ROOT / "web" / "console"
# npm `mqtt` (pinned in web/console/package.json), its prebuilt browser bundle; node_modules is not committed.
MQTT_BUNDLE = CONSOLE_SOURCE_DIR / "node_modules" / "mqtt" / "dist" / "mqtt.min.js"
VENDOR_BUNDLE_PATH = "vendor/mqtt.min.js"
SITE_SUFFIXES = (".html", ".js", ".css")
PRICE_TOPIC_FILTER = "trading/v1/fixtures/+/prices"
API_PATH_PREFIX = "/v1/"  # the APIs' stage: same path locally (forwarded) and behind CloudFront
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".png": "image/png",
}


class ConsoleBundleMissing(RuntimeError):
    pass


def site_files() -> list[Path]:
    """The page's own files: web/console/*.html|js|css (not package.json, not node_modules)."""
    return sorted(path for path in CONSOLE_SOURCE_DIR.iterdir() if path.suffix in SITE_SUFFIXES and path.is_file())


def build_site(destination: Path) -> Path:
    """Copy the page and the MQTT bundle into ``destination`` (replaced), ready to serve or deploy."""
    if not MQTT_BUNDLE.is_file():
        shown = MQTT_BUNDLE.relative_to(PROJECT_ROOT) if MQTT_BUNDLE.is_relative_to(PROJECT_ROOT) else MQTT_BUNDLE
        raise ConsoleBundleMissing(f"{shown} is missing: run `make build` (npm ci in web/console) first")
    if destination.exists():
        shutil.rmtree(destination)
    (destination / "vendor").mkdir(parents=True)
    for path in site_files():
        shutil.copy(path, destination / path.name)  # not copy2: a fresh mtime keeps make's target newer
    shutil.copy(MQTT_BUNDLE, destination / VENDOR_BUNDLE_PATH)
    return destination


def local_config(*, trader_api_url: str, query_api_url: str, websocket_url: str) -> dict[str, Any]:
    """config.json for the local engine: local sign-in, the local Mosquitto's websockets listener."""
    return {
        "stage": "local",
        "traderApiUrl": trader_api_url.rstrip("/"),
        "queryApiUrl": query_api_url.rstrip("/"),
        "auth": {"mode": "local"},
        "realtime": {"mode": "local", "url": websocket_url, "topicFilter": PRICE_TOPIC_FILTER},
    }


def forward_request(upstream: str, handler: BaseHTTPRequestHandler) -> tuple[int, bytes, str]:
    """Pass a request to the API as CloudFront's /v1/* behaviour does (every header but Host)."""
    length = int(handler.headers.get("Content-Length") or 0)
    body = handler.rfile.read(length) if length else None
    headers = {k: v for k, v in handler.headers.items() if k.lower() not in {"host", "content-length"}}
    request = urllib.request.Request(f"{upstream}{handler.path}", data=body, method=handler.command, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback only
            return response.status, response.read(), response.headers.get_content_type()
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers.get_content_type()


@dataclass
class ConsoleServer:
    """Serves a built site directory and ``config`` as /config.json on 127.0.0.1 (threaded, loopback only)."""

    site_dir: Path
    config: dict[str, Any]
    port: int = 0
    api_upstream: str | None = None  # e.g. the LocalGateway's URL: /v1/... is forwarded there
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _files: dict[str, Path] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> ConsoleServer:
        # Only the files that exist at start are served: a request path is looked up, never joined to a directory.
        self._files = {
            path.relative_to(self.site_dir).as_posix(): path for path in self.site_dir.rglob("*") if path.is_file()
        }
        self._files[""] = self.site_dir / "index.html"
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler_class())
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="console-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ConsoleServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                if server.api_upstream and self.path.startswith(API_PATH_PREFIX):
                    self._forward()
                else:
                    self._send(405, b"method not allowed", "text/plain")

            def _forward(self) -> None:
                assert server.api_upstream is not None
                self._send(*forward_request(server.api_upstream, self))

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if server.api_upstream and self.path.startswith(API_PATH_PREFIX):
                    self._forward()
                    return
                name = self.path.split("?", 1)[0].lstrip("/")
                if name == "config.json":
                    self._send(200, json.dumps(server.config).encode(), CONTENT_TYPES[".json"])
                elif name in server._files:
                    path = server._files[name]
                    self._send(200, path.read_bytes(), CONTENT_TYPES.get(path.suffix, "application/octet-stream"))
                else:
                    self._send(404, b"not found", "text/plain")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
                pass

        return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="copy the page and the MQTT bundle into a site directory")
    build.add_argument("destination", type=Path)
    serve = commands.add_parser("serve", help="serve the console against APIs and a broker already running")
    serve.add_argument("--trader-api-url", required=True)
    serve.add_argument("--query-api-url", required=True)
    serve.add_argument("--websocket-url", required=True)
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--site", type=Path, default=PROJECT_ROOT / ".build" / "console")
    args = parser.parse_args(argv)
    if args.command == "build":
        print(f"console site built in {build_site(args.destination)}")
        return
    config = local_config(
        trader_api_url=args.trader_api_url, query_api_url=args.query_api_url, websocket_url=args.websocket_url
    )
    with ConsoleServer(build_site(args.site), config, port=args.port) as server:
        print(f"trader console on {server.url} (Ctrl-C to stop)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
