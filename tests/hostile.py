"""A loopback HTTP server that misbehaves on purpose: trickles, resets, floods, lies."""

from __future__ import annotations

import json
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

Behaviour = Callable[[socket.socket], None]


def _head(status: int = 200, length: int | None = None, **headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status} X", "Content-Type: application/json"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def reply(body: Any, status: int = 200, **headers: str) -> Behaviour:
    """Answer ``body`` (bytes as they are, anything else as JSON) in one piece."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()

    def send(conn: socket.socket) -> None:
        conn.sendall(_head(status, len(raw), **headers) + raw)

    return send


def envelope(data: Any = None, code: Any = 0, msg: str = "") -> Behaviour:
    return reply({"code": code, "msg": msg, "data": data})


def trickle(interval: float, stop: threading.Event) -> Behaviour:
    """Promise a large body and send it one byte per ``interval`` until the client goes away."""

    def send(conn: socket.socket) -> None:
        conn.sendall(_head(200, 1_000_000) + b'{"code": 0, "data": "')
        while not stop.is_set():
            conn.sendall(b"x")
            time.sleep(interval)

    return send


def trickle_head(interval: float, stop: threading.Event, seconds: float = 20.0) -> Behaviour:
    """Send the response's head one byte per ``interval``, for ``seconds`` at most."""

    def send(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        ends = time.monotonic() + seconds
        while not stop.is_set() and time.monotonic() < ends:
            conn.sendall(b"x")
            time.sleep(interval)

    return send


def reset_mid_body() -> Behaviour:
    """Send half a body, then reset the connection (RST, not FIN)."""

    def send(conn: socket.socket) -> None:
        conn.sendall(_head(200, 100) + b'{"code": 0, "da')
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()

    return send


def huge_body(size: int) -> Behaviour:
    """A body of ``size`` bytes (sent in 1 MiB pieces while the client reads)."""

    def send(conn: socket.socket) -> None:
        conn.sendall(_head(200, size))
        piece = b" " * (1 << 20)
        for _ in range(size >> 20):
            conn.sendall(piece)

    return send


class HostileServer:
    """Serve each connection with the next behaviour of :attr:`script` (the last one repeats)."""

    def __init__(self, *script: Behaviour) -> None:
        self.script = list(script)
        self.requests: list[bytes] = []
        self.stop = threading.Event()
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                conn: socket.socket = self.request
                try:
                    while outer._read_request(conn):
                        behaviour = (
                            outer.script.pop(0) if len(outer.script) > 1 else outer.script[0]
                        )
                        behaviour(conn)
                except OSError:
                    pass

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def _read_request(self, conn: socket.socket) -> bool:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return False
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        while len(body) < length:
            body += conn.recv(65536)
        self.requests.append(head + b"\r\n\r\n" + body)
        return True

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop.set()
        self._server.shutdown()
        self._server.server_close()
