"""A fake outside service on 127.0.0.1, on a port of its own, in a thread of the test process."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class LoopbackServer:
    """Every GET and POST goes to ``self._answer(handler)``; used as a context manager."""

    def _serve(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                fake._answer(self)

            def do_POST(self) -> None:
                fake._answer(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    @staticmethod
    def _lost(handler: BaseHTTPRequestHandler, fault) -> bool:
        """A fault that loses the answer: the connection dropped (``fault.drop``) or the answer held
        back (``fault.stall`` seconds). False when the fault answers with an error instead."""
        if fault.drop:
            handler.close_connection = True
            try:
                handler.connection.shutdown(2)
            except OSError:
                pass
            return True
        if fault.stall:
            time.sleep(fault.stall)
            return True
        return False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
