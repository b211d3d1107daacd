"""httpget, the fetch stage's one-request client: bodies decoded while streaming and limited
after decoding, HTTPS verified against a CA, timeouts named."""

from __future__ import annotations

import gzip
import ssl
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipeline.feeds.http import BadResponse, ConnectFailed, TimedOut, TooLarge, get_once

TLS = ssl.create_default_context()


def _route(http_server, path: str, body: bytes, encoding: str | None = None) -> str:
    headers = {"Content-Encoding": encoding} if encoding else None
    return http_server.serve_bytes(path, body, headers=headers)


def test_gzip_and_deflate_are_decoded(http_server):
    text = b"<rss>" + b"x" * 10_000 + b"</rss>"
    plain = get_once(_route(http_server, "/p", text), {}, time.monotonic() + 5, 10**6, TLS)
    gz = get_once(_route(http_server, "/g", gzip.compress(text), "gzip"), {},
                  time.monotonic() + 5, 10**6, TLS)
    deflated = get_once(_route(http_server, "/d", zlib.compress(text), "deflate"), {},
                        time.monotonic() + 5, 10**6, TLS)
    assert plain.body == gz.body == deflated.body == text
    assert gz.headers["content-encoding"] == "gzip"  # names are lower-case


def test_a_compression_bomb_stops_at_the_limit(http_server):
    bomb = gzip.compress(b"\0" * 50_000_000)  # 50 MB of zeros in about 50 KB
    url = _route(http_server, "/bomb", bomb, "gzip")
    with pytest.raises(TooLarge) as excinfo:
        get_once(url, {}, time.monotonic() + 10, 1_000_000, TLS)
    assert excinfo.value.declared is None  # stopped while inflating, not by Content-Length


def test_broken_gzip_and_refused_connections_are_named(http_server):
    url = _route(http_server, "/broken", b"not gzip at all", "gzip")
    with pytest.raises(BadResponse, match="cannot decode the gzip body"):
        get_once(url, {}, time.monotonic() + 5, 10**6, TLS)
    with pytest.raises(ConnectFailed):
        get_once("http://127.0.0.1:9/feed.xml", {}, time.monotonic() + 5, 10**6, TLS)


def test_time_limit_covers_a_stalled_body(http_server):
    def stall(h):
        h.send_response(200)
        h.send_header("Content-Length", "1000")
        h.end_headers()
        h.wfile.write(b"<rss>")
        h.wfile.flush()
        time.sleep(2)

    http_server.routes["/stall"] = stall
    with pytest.raises(TimedOut):
        get_once(http_server.url("/stall"), {}, time.monotonic() + 0.3, 10**6, TLS)


def test_https_is_verified(tls_certificate):
    cert, key = tls_certificate

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            body = b"<rss/>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(ThreadingHTTPServer):
        def handle_error(self, request, client_address) -> None:
            pass  # the refused handshake below resets a connection: expected

    server = Server(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"https://127.0.0.1:{server.server_address[1]}/feed.xml"
        trusting = ssl.create_default_context(cafile=str(cert))
        assert get_once(url, {}, time.monotonic() + 5, 10**6, trusting).body == b"<rss/>"
        with pytest.raises(ConnectFailed, match="TLS handshake failed"):
            get_once(url, {}, time.monotonic() + 5, 10**6, TLS)  # self-signed: refused
    finally:
        server.shutdown()
        server.server_close()
