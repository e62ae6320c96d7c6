"""Answers kept for questions asked again: a bounded, thread-safe LRU of finished answers, keyed by everything
that decides an answer, so that a repeated question costs a lookup instead of an embedding and a search.

Under load the server's CPU goes to embedding each question (~32-56 ms of the ~45-70 ms an extractive answer
costs on 2 cores), and the questions a portal's users ask repeat. The cache lives on one `Assistant`, which
holds one index build: a re-index swaps in a new `Assistant` with an empty cache. English renderings learned
after the build (machine drafts) change answers, so their count is part of the key.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable

from cachetools import LRUCache

from assistant.models import Answer


class AnswerCache:
    """`size` answers at most (0: nothing is kept); the least recently asked goes first."""

    def __init__(self, size: int) -> None:
        self._answers: LRUCache[Hashable, Answer] | None = LRUCache(maxsize=size) if size > 0 else None
        self._lock = threading.Lock()  # cachetools' caches are not thread-safe; the server answers in threads

    def get(self, key: Hashable) -> Answer | None:
        if self._answers is None:
            return None
        with self._lock:
            return self._answers.get(key)

    def put(self, key: Hashable, answer: Answer) -> None:
        if self._answers is None:
            return
        with self._lock:
            self._answers[key] = answer

    def __len__(self) -> int:
        return 0 if self._answers is None else len(self._answers)
