"""A small OpenAI-compatible chat-completions server on loopback, for testing the `openai` generator
against a real HTTP server: it answers with a scripted reply, streams it as server-sent events, and can
be slow, down or garbled. `respond`, when set, computes the reply from the request body."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class StubLLM:
    def __init__(self) -> None:
        self.reply = "ok"
        self.respond: Callable[[dict], str] | None = None
        self.delay = 0.0
        self.garbage = False
        self.requests: list[dict] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> StubLLM:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append(body)
                time.sleep(stub.delay)
                if stub.garbage:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b"{not json at all")
                    return
                reply = stub.respond(body) if stub.respond else stub.reply
                if body.get("stream"):
                    self._stream(body, reply)
                else:
                    self._json(body, reply)

            def _stream(self, body: dict, reply: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for piece in [reply[i : i + 7] for i in range(0, len(reply), 7)]:
                    event = {
                        "id": "c1",
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": body["model"],
                        "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                    }
                    self.wfile.write(f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")

            def _json(self, body: dict, reply: str) -> None:
                payload = {
                    "id": "c1",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
                data = json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


# --- translation requests and stand-in renderings ---------------------------------------------------------

# English characters per Chinese character of a stand-in rendering: the reviewed renderings' median is 5.0,
# and a draft outside 1.0-12 is rejected (`drafts.rendering_problem`).
STAND_IN_CHARS_PER_CHINESE_CHAR = 3


def batch_of(body: dict) -> list[str]:
    """The sentences of a translation request: the JSON array that ends its user message (after the glossary)."""
    content = body["messages"][-1]["content"]
    return json.loads(content[content.index("\n[") :])


def stand_in_rendering(zh: str, words: str = "") -> str:
    """An 'English' draft that names its text (by hash), keeps its figures, holds `words`, and is as long as
    a real rendering of it would be."""
    import re

    from assistant.models import content_hash

    figures = " ".join(re.findall(r"\d+(?:\.\d+)?%?", zh))
    text = " ".join(part for part in (f"Draft of {content_hash(zh.strip())[:8]}", words, figures) if part)
    missing = STAND_IN_CHARS_PER_CHINESE_CHAR * len(zh.strip()) - len(text)
    return text + " etc" * max(0, missing // 4)
