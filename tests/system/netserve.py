"""netserve.py: an HTTP server on the host's loopback for a guest to reach through QEMU's guestfwd.

    with Serve(directory) as server:          # serves the files under `directory`
        Boot(..., guestfwd=[("10.0.2.100", 80, server.port)])

It listens on 127.0.0.1 only, on a free port the kernel picks, and answers in a thread of its
own until the `with` ends. Requests are counted (server.requests) and not logged: a test asserts
on what the guest printed, not on the server's chatter.

    with Sink() as sink:                      # reads and discards, counting bytes (sink.received)

`netserve.py relay PORT` is what QEMU runs for each connection the guest opens to a guestfwd
address (harness.io_args): it copies the connection (its stdin and stdout) to and from
127.0.0.1:PORT. QEMU's other kind of guestfwd target, a `tcp:` character device, is one stream
opened when QEMU starts: the guest's first connection works and every later one hangs.
"""

import functools
import http.server
import os
import socket
import sys
import threading


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_request(self, code="-", size="-"):
        with self.server.lock:
            self.server.requests += 1

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


class Serve:
    """A threaded HTTP server for `directory` on 127.0.0.1:port, stopped when the `with` ends."""

    def __init__(self, directory):
        handler = functools.partial(_Handler, directory=str(directory))
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._httpd.requests = 0
        self._httpd.lock = threading.Lock()
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def requests(self):
        """Requests answered so far (any status)."""
        return self._httpd.requests

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(10)


class Sink:
    """A TCP server on 127.0.0.1:port that reads each connection to its end and discards it:
    the far end of an upload (`make bench`). sink.received counts the bytes of all of them."""

    def __init__(self):
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.received = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return  # closed by __exit__
            threading.Thread(target=self._drain, args=(conn,), daemon=True).start()

    def _drain(self, conn):
        with conn:
            while data := conn.recv(65536):
                self.received += len(data)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._sock.close()
        self._thread.join(10)


def relay(port):
    """Copies stdin to 127.0.0.1:port and what comes back to stdout, until the server is done."""
    sock = socket.create_connection(("127.0.0.1", port))

    def guest_to_server():
        while data := os.read(0, 65536):
            sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)

    threading.Thread(target=guest_to_server, daemon=True).start()
    while data := sock.recv(65536):
        while data:
            data = data[os.write(1, data):]
    # Exiting closes the guest's connection: QEMU sees EOF and sends the guest a FIN.


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "relay":
        sys.exit(f"usage: {sys.argv[0]} relay PORT")
    relay(int(sys.argv[2]))
