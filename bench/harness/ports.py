"""Free loopback ports, so a benchmark never collides with anything else on the machine."""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"
_handed_out: set[int] = set()


def free_port() -> int:
    """A port the kernel just called free; never the same one twice in a run."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOOPBACK, 0))
            port = sock.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port
