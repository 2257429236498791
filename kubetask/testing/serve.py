"""The API served by uvicorn on a loopback port, in a thread of the test process: what the CLI, a
browser and httpx reach over real HTTP (the in-process TestClient skips the server)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from .cluster import wait_for
from .ports import free_port


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve ASGI `app` on 127.0.0.1 and a free port; yield its base URL; stop it afterwards."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    wait_for("the API to listen", lambda: server.started, 20, 0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
