#!/usr/bin/env python3
"""A scripted OpenAI-compatible judge for the analysis tests (stdlib only).

POST /v1/chat/completions (or /chat/completions) answers a non-streaming chat completion whose
verdict is "correct" when the model response quotes the reference answer. Markers in the
question script failures, per distinct request:
  (flaky)    first attempt HTTP 429 (Retry-After: 0), then a verdict
  (garbled)  first attempt a reply with no readable verdict, then the verdict in a ```json fence
  (broken)   always HTTP 500
Replies vary their verdict format (bare JSON, a "Verdict: CORRECT" line) to exercise the parser.
A request without "Authorization: Bearer <--key>" gets 401. GET /stats returns counters.

usage: judge_server.py --port-file FILE [--key KEY]
"""
import argparse
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.RLock()
STATS = {"requests": 0, "by_status": {}, "attempts": {}, "unauthorized": 0, "models": []}


def section(text, title):
    m = re.search(re.escape(title) + r":\n<<<\n(.*?)\n>>>", text, re.S)
    return m.group(1) if m else None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    key = None

    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=None):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        with LOCK:
            STATS["by_status"][str(status)] = STATS["by_status"].get(str(status), 0) + 1

    def do_GET(self):
        if self.path == "/stats":
            with LOCK:
                body = json.dumps(STATS)
            self.reply(200, body)
        else:
            self.reply(404, '{"error":"not found"}')

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        with LOCK:
            STATS["requests"] += 1
        if not self.path.endswith("/chat/completions"):
            self.reply(404, '{"error":{"message":"unknown path %s"}}' % self.path)
            return
        if self.headers.get("Authorization") != "Bearer " + self.key:
            with LOCK:
                STATS["unauthorized"] += 1
            # like OpenAI, echo part of the key back: the client must scrub it
            got = self.headers.get("Authorization", "")
            self.reply(401, json.dumps({"error": {"message": "Incorrect API key provided: " +
                                                  got.replace("Bearer ", "")}}))
            return
        req = json.loads(raw)
        user = req["messages"][1]["content"]
        question = section(user, "Question") or ""
        reference = section(user, "Reference answer") or ""
        response = section(user, "Model response") or ""
        digest = hashlib.sha256(raw).hexdigest()
        with LOCK:
            if req.get("model") not in STATS["models"]:
                STATS["models"].append(req.get("model"))
            attempt = STATS["attempts"].get(digest, 0) + 1
            STATS["attempts"][digest] = attempt
        if "(broken)" in question:
            self.reply(500, '{"error":{"message":"upstream overloaded"}}')
            return
        if "(flaky)" in question and attempt == 1:
            self.reply(429, '{"error":{"message":"rate limited"}}', {"Retry-After": "0"})
            return
        correct = bool(reference) and (reference in response or
                                       re.search(r"\b%s\b" % re.escape(reference), response))
        if "(garbled)" in question and attempt == 1:
            content = "Hmm, let me consider the response carefully before I decide."
        elif "(garbled)" in question:
            content = "Here is my verdict:\n```json\n{\"correct\": %s}\n```" % (
                "true" if correct else "false")
        elif int(digest[:2], 16) % 2:
            content = "The response matches the reference.\n\nVerdict: %s" % (
                "CORRECT" if correct else "INCORRECT")
        else:
            content = json.dumps({"correct": bool(correct)})
        body = {"id": "chatcmpl-test", "object": "chat.completion", "model": req.get("model"),
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": content}}],
                "usage": {"prompt_tokens": 100, "completion_tokens": 8, "total_tokens": 108}}
        self.reply(200, json.dumps(body))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--key", default="test-key-123")
    args = ap.parse_args()
    Handler.key = args.key
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(args.port_file + ".tmp", args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
