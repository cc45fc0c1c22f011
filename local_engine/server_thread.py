"""An asyncio server on its own event-loop thread, for the engine's loopback relays (IoT Core's front door before
Mosquitto, the browsers' WebSocket bridge): started until it listens, then closed and joined."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Protocol


class _Server(Protocol):
    sockets: Any

    def close(self) -> None: ...

    async def wait_closed(self) -> None: ...


class ServerThread:
    """One server, one event loop, one daemon thread named ``name``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, open_server: Callable[[], Awaitable[Any]]) -> int:
        """Open the server on the thread's loop; answers the port it listens on once it does."""
        ready = threading.Event()
        loop = self._loop = asyncio.new_event_loop()

        async def opened() -> None:
            self._server = await open_server()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(opened())
            ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread.start()
        if not ready.wait(10) or self._server is None:
            raise RuntimeError(f"{self.name} did not start within 10 s")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def stop(self) -> None:
        if self._loop is None:
            return
        loop = self._loop

        async def close() -> None:
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        loop.close()
        self._loop = None
