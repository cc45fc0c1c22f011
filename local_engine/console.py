"""`make console`: the trader console against the local engine, with matches being played.

    python -m local_engine.console [--port 8080] [--fixtures 6] [--events-per-second 2] [--assembly cdk.out]

The page is served as deployed (``.build/console``) with a local config.json; ``/v1/...`` is forwarded to the
local gateway (the synthesized trader, query and ingest APIs), prices arrive from the engine's Mosquitto over
WebSocket. The sample feed plays in the background through the real feed workflow, so prices move; sign in
with any user name and suspend, resume or change margins: the trader-command workflow runs for real.
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

from local_engine.console_server import ConsoleServer, build_site, local_config
from local_engine.engine import LocalEngine
from local_engine.gateway import LocalGateway
from local_engine.sample_feed import sample_feed
from local_engine.session import DEFAULT_ASSEMBLY, quiet_libraries

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def play(engine: LocalEngine, events: list[object], events_per_second: float, stop: threading.Event) -> None:
    for event in events:
        if stop.is_set():
            return
        engine.run(event)
        stop.wait(1 / events_per_second)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--fixtures", type=int, default=6)
    parser.add_argument("--events-per-second", type=float, default=2.0)
    parser.add_argument("--assembly", type=Path, default=DEFAULT_ASSEMBLY)
    args = parser.parse_args(argv)
    if args.events_per_second <= 0:
        parser.error("--events-per-second: must be above 0")
    quiet_libraries()
    feed = sample_feed(fixtures=args.fixtures)
    with LocalEngine(args.assembly, concurrency=4) as engine, LocalGateway(engine) as gateway:
        assert engine.broker is not None
        config = local_config(
            trader_api_url="/v1",
            query_api_url="/v1",
            websocket_url=f"ws://127.0.0.1:{engine.broker.websocket_port}",
        )
        site = build_site(PROJECT_ROOT / ".build" / "console")
        with ConsoleServer(site, config, port=args.port, api_upstream=gateway.url) as console:
            stop = threading.Event()
            player = threading.Thread(target=play, args=(engine, feed, args.events_per_second, stop), daemon=True)
            player.start()
            print(f"trader console on {console.url} (sign in with any user name; Ctrl-C to stop)", flush=True)
            print(f"playing {len(feed)} feed events at {args.events_per_second}/s through the local engine")
            try:
                while player.is_alive():
                    time.sleep(0.5)
                print("the feed has been played; the console stays up (Ctrl-C to stop)", flush=True)
                threading.Event().wait()
            except KeyboardInterrupt:
                stop.set()


if __name__ == "__main__":
    main()
