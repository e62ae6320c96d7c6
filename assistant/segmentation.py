"""Word segmentation for lexical matching: jieba for Chinese, a plain word split for English."""

from __future__ import annotations

import logging
import re
from functools import lru_cache

ZH_STOPWORDS = frozenset(
    """
    的 了 和 与 及 等 在 是 为 对 以 把 将 由 从 中 上 下 其 之 并 或 也 而 就 都 所 有 于 向 到
    加强 推进 推动 建设 实施 加快 持续 开展 全面 进一步 积极 深入 不断 提升 提高 完善 健全 强化 发展
    哪些 什么 怎么 如何 多少 是否 关于 规划 提出 要求 方面 工作 主要
    """.split()
)
EN_STOPWORDS = frozenset(
    """
    a an the of and or to in on for by with as at from is are be was were this that these those it its
    what which who whom how why when where does do did has have had will would should can could may
    plan plans say says said about qinghai province provincial please tell me i we you they there
    """.split()
)
TOKEN_RE = re.compile(r"[a-z0-9]+(?:[.\-][a-z0-9]+)*")


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def zh_tokens(text: str) -> list[str]:
    """Content words of a Chinese (or mixed) text, lower-cased, without punctuation and stopwords."""
    tokens = []
    for token in _jieba().lcut(text.lower()):
        token = token.strip()
        if not token or token in ZH_STOPWORDS or not re.search(r"[\w]", token):
            continue
        tokens.append(token)
    return tokens


def en_tokens(text: str) -> list[str]:
    """Content words of an English text, lower-cased, crudely stemmed (plural s)."""
    out = []
    for token in TOKEN_RE.findall(text.lower()):
        if token in EN_STOPWORDS:
            continue
        if len(token) > 4 and token.endswith("s") and not token.endswith("ss"):
            token = token[:-1]
        out.append(token)
    return out
