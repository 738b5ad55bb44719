"""Real ASGI servers on loopback, each in a thread: uvicorn (asyncio) and hypercorn (trio).

The listening socket is bound to a free port and listening before the server
starts, so a client may connect at once: the connection waits in the backlog
until the server accepts it (no polling, no sleeps). Stopping asks the server
to shut down from its own event loop's side and joins its thread.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

# Generous: the suite must pass with every core busy.
JOIN_TIMEOUT = 60


def _listening_socket() -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    return listener


@contextlib.contextmanager
def uvicorn_in_thread(app: Any) -> Iterator[str]:
    """Serve *app* with uvicorn on asyncio; yields the base URL."""
    import uvicorn

    listener = _listening_socket()
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=JOIN_TIMEOUT // 2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=JOIN_TIMEOUT)
        listener.close()
    if thread.is_alive():
        raise RuntimeError("uvicorn did not stop")


@contextlib.contextmanager
def hypercorn_trio_in_thread(app: Any) -> Iterator[str]:
    """Serve *app* with hypercorn's trio worker; yields the base URL."""
    import trio
    from hypercorn.config import Config
    from hypercorn.trio import serve

    listener = _listening_socket()
    port = listener.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{listener.fileno()}"]
    config.accesslog = None
    config.loglevel = "WARNING"
    config.graceful_timeout = JOIN_TIMEOUT // 2
    started = threading.Event()
    handles: dict[str, Any] = {}
    failures: list[BaseException] = []

    async def main() -> None:
        stop = trio.Event()
        handles["stop"], handles["token"] = stop, trio.lowlevel.current_trio_token()
        started.set()
        await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]

    def run() -> None:
        try:
            trio.run(main)
        except BaseException as error:  # reported by the main thread
            failures.append(error)
            started.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    if not started.wait(JOIN_TIMEOUT) or failures:
        raise RuntimeError(f"hypercorn did not start: {failures}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        trio.from_thread.run_sync(handles["stop"].set, trio_token=handles["token"])
        thread.join(timeout=JOIN_TIMEOUT)
        with contextlib.suppress(OSError):  # hypercorn may close the socket it was given
            listener.close()
    if thread.is_alive() or failures:
        raise RuntimeError(f"hypercorn did not stop cleanly: {failures}")
