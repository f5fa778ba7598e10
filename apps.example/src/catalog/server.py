"""Acme catalog: a Python web app on the standard library only (http.server).

skyrec sets PORT per instance; CATALOG_TITLE and the rest come from the app's env.
"""
import json
import os
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

APP = "catalog"
ITEMS = [{"sku": "A-100", "name": "Anvil"}, {"sku": "R-200", "name": "Rocket skates"}]


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            return self.send(200, "text/plain", "ok\n")
        if path == "/":
            body = {
                "app": APP,
                "hostname": socket.gethostname(),
                "title": os.environ.get("CATALOG_TITLE"),
                "python": "%d.%d" % sys.version_info[:2],
                "items": ITEMS,
            }
            return self.send(200, "application/json", json.dumps(body) + "\n")
        self.send(404, "application/json", json.dumps({"error": "not found"}) + "\n")

    def send(self, status, kind, text):
        data = text.encode()
        self.send_response(status)
        self.send_header("content-type", kind + "; charset=utf-8")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        pass


def main():
    port = int(os.environ.get("PORT", "8000"))
    # 0.0.0.0 because the ingress Caddy may run on another node; HOST narrows it locally.
    host = os.environ.get("HOST") or "0.0.0.0"
    server = ThreadingHTTPServer((host, port), Handler)
    # systemd sends SIGTERM on stop and restart: stop accepting, let requests finish, exit 0.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print("%s: listening on %s:%d" % (APP, host, port), flush=True)
    server.serve_forever()
    print("%s: stopped" % APP, flush=True)


if __name__ == "__main__":
    main()
