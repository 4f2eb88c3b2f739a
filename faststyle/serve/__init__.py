"""`faststyle serve`: the HTTP API and the web page (the [serve] extra: FastAPI and uvicorn).

    settings.py   every bound: upload size, pixels, painters, queue, time limit
    painters.py   the bounded pool that paints off the event loop
    app.py        the routes, a thin shell over faststyle.api
    page/         the web page: plain HTML, CSS and JS served by the package
"""

from __future__ import annotations

import logging
import signal
import sys

from faststyle.serve.settings import ServeSettings

__all__ = ["ServeSettings", "create_app", "run"]


def create_app(settings: ServeSettings | None = None, device: str = "auto"):
    from faststyle.serve.app import create_app as build

    return build(settings, device)


def run(settings: ServeSettings, device: str = "auto") -> int:
    """Serves until SIGTERM or Ctrl-C, then lets the requests in progress finish (settings.drain_s)."""
    import uvicorn

    app = create_app(settings, device)
    where = f"http://{settings.host}:{settings.port}"
    if settings.loopback_only:
        print(f"faststyle serve: {where} (this computer only; --host 0.0.0.0 opens it to the network)",
              file=sys.stderr)
    else:
        print(f"faststyle serve: {where} is reachable from other machines (--host {settings.host}); "
              + ("the API wants the token" if settings.token else "anyone who can reach it may use it: "
                 "add --token or FASTSTYLE_TOKEN to require a key"), file=sys.stderr)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info",
                            timeout_graceful_shutdown=settings.drain_s,
                            # connections beyond this get 503 from uvicorn itself, before any parsing
                            limit_concurrency=settings.painters + settings.queue + 64,
                            timeout_keep_alive=5)
    logging.getLogger("uvicorn.error").setLevel(logging.INFO)
    server = uvicorn.Server(config)
    # uvicorn drains on SIGTERM and Ctrl-C, then raises the signal again for the handler it found:
    # here that must be a no-op, so a drained server exits 0 rather than as killed.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    server.run()
    return 0 if server.started else 1
