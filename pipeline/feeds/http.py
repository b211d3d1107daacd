"""One HTTP/1.1 GET on the standard library's http.client, for the fetch stage's hot path.

Why not httpx here: fetching a hundred feeds at once is bound by the Python work per request,
and httpx's layers (httpx → httpcore → h11) cost several times what http.client does
(bench/fetch.py: 100 feeds at 300 ms latency took 1.4× the slowest single fetch with httpx,
1.15× with this). Redirects, retries and limits are the fetch stage's own logic either way.

`get_once` makes exactly one request (no redirects), within a wall-clock limit `until`
(time.monotonic), reading at most `max_bytes` of the *decoded* body (gzip and deflate are
decoded while streaming, so a compression bomb stops at the limit too).

The limit holds for the whole exchange. A socket timeout alone does not do that: it restarts
with every byte received, so a server dripping its status line or headers a byte at a time
would hold a fetch for ever. The response is therefore read through `_DeadlineReader`, which
gives every receive only the time left until `until`. Connecting, the TLS handshake (CPython
keeps one deadline across its retries) and sending the request are bounded by the same
time left.
"""

from __future__ import annotations

import base64
import http.client
import io
import socket
import ssl
import time
import zlib
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

CHUNK = 64 * 1024


class TimedOut(Exception):
    """The request did not finish before its time limit."""


class ConnectFailed(Exception):
    """No connection: DNS, refused, unreachable, TLS handshake."""


class BadResponse(Exception):
    """The server answered something that is not HTTP, or a body we cannot decode."""


class TooLarge(Exception):
    """The body is larger than the limit."""

    def __init__(self, declared: int | None) -> None:
        super().__init__(declared)
        self.declared = declared


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes  # empty unless the status is 2xx


def _left(until: float) -> float:
    left = until - time.monotonic()
    if left <= 0:
        raise TimedOut("time limit reached")
    return left


class _DeadlineReader(io.RawIOBase):
    """The socket as http.client reads it (status line, headers, body), every receive
    limited to the time left before `until`."""

    def __init__(self, sock: socket.socket, until: float, plain: io.BufferedIOBase) -> None:
        super().__init__()
        self._sock = sock
        self._until = until
        # http.client's own reader (sock.makefile) is what keeps the socket open once the
        # connection hands it over to the response: it is closed with this one.
        self._plain = plain

    def close(self) -> None:
        if not self.closed:
            self._plain.close()
        super().close()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        left = self._until - time.monotonic()
        if left <= 0:
            raise TimeoutError("time limit reached")
        self._sock.settimeout(left)
        return self._sock.recv_into(buffer)


class _DeadlineResponse(http.client.HTTPResponse):
    def __init__(self, sock: socket.socket, until: float, **kwargs) -> None:
        super().__init__(sock, **kwargs)
        self.fp = io.BufferedReader(_DeadlineReader(sock, until, self.fp))


def _basic_auth(username: str, password: str | None) -> str:
    pair = f"{unquote(username)}:{unquote(password or '')}"
    return "Basic " + base64.b64encode(pair.encode()).decode("ascii")


def _decoder(encoding: str):
    encoding = encoding.strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj()  # zlib-wrapped, as servers send it
    if encoding in ("", "identity"):
        return None
    raise BadResponse(f"unsupported Content-Encoding {encoding!r}")


def get_once(url: str, headers: dict[str, str], until: float, max_bytes: int,
             tls: ssl.SSLContext) -> Response:
    """GET `url` once. Raises TimedOut, ConnectFailed, BadResponse or TooLarge."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.username is not None:  # https://user:password@host/feed: HTTP Basic
        headers = {**headers, "Authorization": _basic_auth(parts.username, parts.password)}
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, parts.port, timeout=_left(until), context=tls)
    else:
        conn = http.client.HTTPConnection(host, parts.port, timeout=_left(until))
    try:
        try:
            conn.connect()
        except TimeoutError as exc:
            raise TimedOut("timed out while connecting") from exc
        except ssl.SSLError as exc:
            raise ConnectFailed(f"TLS handshake failed: {exc.reason or exc}") from exc
        except OSError as exc:
            raise ConnectFailed(str(exc) or type(exc).__name__) from exc
        # http.client drops conn.sock once a response is to be read until close: keep our own.
        sock = conn.sock
        conn.response_class = lambda sock, **kw: _DeadlineResponse(sock, until, **kw)
        try:
            sock.settimeout(_left(until))
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            names = {k.lower(): v for k, v in response.getheaders()}
            if not 200 <= response.status < 300:
                return Response(response.status, names, b"")
            declared = names.get("content-length", "")
            encoding = names.get("content-encoding", "")
            if declared.isdigit() and int(declared) > max_bytes and not encoding:
                raise TooLarge(int(declared))
            decoder = _decoder(encoding)
            body = bytearray()
            while True:
                chunk = response.read1(CHUNK)
                if not chunk:
                    break
                if decoder is not None:
                    # Never inflate more than the room left: a bomb stops at the limit.
                    chunk = decoder.decompress(chunk, max_bytes + 1 - len(body))
                body += chunk
                if len(body) > max_bytes:
                    raise TooLarge(None)
            if decoder is not None:
                body += decoder.flush()
            return Response(response.status, names, bytes(body))
        except TimeoutError as exc:
            raise TimedOut("timed out while reading") from exc
        except zlib.error as exc:
            raise BadResponse(f"cannot decode the {encoding} body: {exc}") from exc
        except (http.client.HTTPException, ValueError) as exc:
            raise BadResponse(f"not a valid HTTP response: {type(exc).__name__}") from exc
        except OSError as exc:
            raise ConnectFailed(f"connection lost: {exc}") from exc
    finally:
        conn.close()
