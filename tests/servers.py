"""Shared by the tests that start servers: a free local port, and the real Gradio app served
in this process (with whatever `launch` options the test needs: a login, the page CSS)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(demo: Any, **launch: Any) -> Iterator[str]:
    """Serve the Gradio `demo` on a free local port; yields its URL and closes it after."""
    port = free_port()
    demo.launch(
        server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **launch
    )
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()
