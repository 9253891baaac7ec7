#!/usr/bin/env python3
"""A `_bulk` endpoint that discards documents: it reads each body, counts the action lines and answers with
one successful item per document, so a backfill run against it measures Ferry's own ceiling.

    backfill_discard.py PORT        serves on 127.0.0.1:PORT until killed
"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ITEM = b'{"index":{"_index":"d","_id":"x","_version":1,"result":"created","status":201}}'


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.reply(b'{"name":"discard","version":{"number":"2.19.0","distribution":"opensearch"},"tagline":"discard"}')

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        # Every document is an action line plus a source line.
        items = body.count(b"\n") // 2
        self.reply(b'{"took":0,"errors":false,"items":[' + b",".join([ITEM] * items) + b"]}")

    def reply(self, payload):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
