"""A hostile HTTP server on 127.0.0.1 for the deadline tests: it answers every request by
dripping its response (status line, headers or body) a little at a time, for as long as the
client keeps the connection open, and records when each client hung up."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field

HEAD_OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
# What each path drips: what is sent at once, then the pieces, one every `pause` seconds.
MODES: dict[str, tuple[bytes, list[bytes], float]] = {
    # the status line one byte every half second (it never ends)
    "/status": (b"", [b"H", b"T", b"T", b"P", b"/", b"1", b"."] + [b"1"] * 1000, 0.5),
    # a header line every second, never the blank line that ends them
    "/headers": (HEAD_OK, [b"X-Padding: keep-waiting\r\n"] * 1000, 1.0),
    # complete headers, then the body one byte every half second
    "/body": (HEAD_OK + b"Content-Length: 100000\r\n\r\n", [b"<"] * 1000, 0.5),
}


@dataclass
class DripServer:
    sock: socket.socket
    hung_up: list[str] = field(default_factory=list)  # paths whose client closed
    served: list[str] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def base(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://{host}:{port}"

    def url(self, mode: str) -> str:
        return self.base + mode

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                request += chunk
            path = request.split(b" ", 2)[1].decode().split("?")[0]
            self.served.append(path)
            first, pieces, pause = MODES.get(path, MODES["/status"])
            try:
                if first:
                    conn.sendall(first)
                for piece in pieces:
                    if self.stopping.wait(pause):
                        return
                    conn.sendall(piece)
                    if _closed_by_peer(conn):
                        break
            except OSError:
                pass
            self.hung_up.append(path)

    def wait_hung_up(self, count: int, timeout: float = 30) -> bool:
        """Whether `count` clients have hung up (polls; the deadline is generous)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if len(self.hung_up) >= count:
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self.stopping.set()
        self.sock.close()


def _closed_by_peer(conn: socket.socket) -> bool:
    """The client closed its end (a read would return EOF at once)."""
    conn.setblocking(False)
    try:
        return conn.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        conn.setblocking(True)


def start_drip_server() -> DripServer:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = DripServer(sock)
    threading.Thread(target=server._serve, daemon=True).start()
    return server
