"""A loopback TCP proxy that a test can cut and restore, to take a server away from a client
without stopping the real server (we must not stop services we did not start).

    with TcpProxy("127.0.0.1", 5672) as proxy:
        url = proxy.rewrite_url(amqp_url)   # the client connects through the proxy
        proxy.cut()       # every proxied connection is closed, new ones are refused
        proxy.restore()   # accepts connections again, on the same port

Each socket is closed only by the thread that owns it (the listener by its accept thread, a
connection's two sockets by the last of its two pump threads); other threads only shut sockets
down. So a closed descriptor number is never used again by another thread by mistake.
"""

from __future__ import annotations

import logging
import socket
import threading
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger(__name__)


class _Pair:
    """A client socket and its upstream socket, pumped by two threads."""

    def __init__(self, client: socket.socket, upstream: socket.socket):
        self.sockets = (client, upstream)
        self._lock = threading.Lock()
        self._running = 2
        self._closed = False

    def shutdown(self) -> None:
        with self._lock:
            if self._closed:
                return
            for s in self.sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def pump_finished(self) -> bool:
        """Called by each pump thread as it ends; the last one closes both sockets."""
        self.shutdown()
        with self._lock:
            self._running -= 1
            if self._running == 0:
                self._closed = True
                for s in self.sockets:
                    s.close()
            return self._closed


class TcpProxy:
    def __init__(self, upstream_host: str, upstream_port: int, *, listen_host: str = "127.0.0.1",
                 listen_port: int = 0):
        self.upstream = (upstream_host, upstream_port)
        self.host = listen_host
        self.port = listen_port
        self.connections = 0  # accepted so far
        self._lock = threading.Lock()
        self._accepting = threading.Event()
        self._acceptor: threading.Thread | None = None
        self._pairs: set[_Pair] = set()
        self._pumps: list[threading.Thread] = []

    # --- control -------------------------------------------------------------------------------

    def start(self) -> TcpProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.host, self.port))
        except OSError:
            listener.close()
            raise
        listener.listen(64)
        listener.settimeout(0.05)
        self.port = listener.getsockname()[1]
        self._accepting.set()
        self._acceptor = threading.Thread(target=self._accept_loop, args=(listener,), daemon=True,
                                          name=f"tcp-proxy-accept-{self.port}")
        self._acceptor.start()
        return self

    def cut(self) -> None:
        """Close every proxied connection and stop listening (new connections are refused).

        The open connections go first, at once: a test that cuts at a chosen moment (a batch in flight)
        must not wait the acceptor's poll interval. Anything accepted meanwhile is closed after."""
        self._accepting.clear()
        self._shutdown_pairs()
        if self._acceptor is not None:
            self._acceptor.join()  # it closes the listener on its way out
            self._acceptor = None
        self._shutdown_pairs()

    def _shutdown_pairs(self) -> None:
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:
            pair.shutdown()

    def restore(self) -> None:
        """Listen again on the same port."""
        if self._acceptor is None:
            self.start()

    def stop(self) -> None:
        self.cut()
        for t in self._pumps:
            t.join(2.0)
        self._pumps = []

    def rewrite_url(self, url: str) -> str:
        """`url` with host:port replaced by the proxy's (user, password, path kept)."""
        parts = urlsplit(url)
        auth = parts.netloc.rpartition("@")[0]
        netloc = f"{auth}@{self.host}:{self.port}" if auth else f"{self.host}:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- plumbing ------------------------------------------------------------------------------

    def _accept_loop(self, listener: socket.socket) -> None:
        try:
            while self._accepting.is_set():
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                try:
                    upstream = socket.create_connection(self.upstream, timeout=5)
                except OSError as exc:
                    log.warning("tcp proxy: upstream %s unreachable: %s", self.upstream, exc)
                    client.close()
                    continue
                for s in (client, upstream):
                    s.settimeout(None)
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                pair = _Pair(client, upstream)
                with self._lock:
                    self._pairs.add(pair)
                    self.connections += 1
                self._pumps = [t for t in self._pumps if t.is_alive()]
                for src, dst in ((client, upstream), (upstream, client)):
                    t = threading.Thread(target=self._pump, args=(pair, src, dst), daemon=True,
                                         name=f"tcp-proxy-pump-{self.port}")
                    self._pumps.append(t)
                    t.start()
        finally:
            listener.close()

    def _pump(self, pair: _Pair, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            if pair.pump_finished():
                with self._lock:
                    self._pairs.discard(pair)
