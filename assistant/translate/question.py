"""English questions in Chinese: the configured translator's rendering of a question, checked (Chinese,
every figure kept, no longer than a question) and cached by question text, in memory and in a JSON-lines
file beside the index, so the same question asked again costs nothing."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Sequence
from pathlib import Path

from assistant.answer.llm import fill
from assistant.errors import GeneratorUnavailableError
from assistant.ingest.curation import GlossaryEntry
from assistant.text import has_han
from assistant.translate.drafts import append_records
from assistant.translate.translators import Translator, TranslatorHolder

log = logging.getLogger(__name__)

PROMPT_FILE = "translate_question.txt"
CACHE_FILE = "question_translations.jsonl"
# A figure standing alone: not the digits of a name or an ordinal (CO2, PM2.5, 5G, the 13th Five-Year Plan:
# 二氧化碳, 十三五 render them without the digits)
NUMBER_RE = re.compile(r"(?<![A-Za-z\d.])\d+(?:\.\d+)?(?![A-Za-z\d])")
# A Chinese question is shorter than its English: a reply longer than the question (in characters) plus
# this much has added something (seen: a small model answering the question instead of translating it).
MAX_EXTRA_CHARS = 20
# What makes a Chinese sentence a question: a question mark, or a question word.
CHINESE_QUESTION_RE = re.compile(r"[？?]|什么|哪|多少|几|如何|怎么|怎样|是否|吗|呢|为何|为什么|有无")
# Tokens a one-line Chinese question needs: ~1 token a character for Qwen's tokenizer, with room.
REPLY_TOKENS = 120


def translation_problem(question: str, reply: str) -> str:
    """Why a reply cannot stand for the question in Chinese; empty when it can."""
    if not reply or not has_han(reply):
        return "the reply is not Chinese"
    if len(reply) > len(question) + MAX_EXTRA_CHARS:
        return "the reply is longer than a translation of the question"
    missing = [n for n in NUMBER_RE.findall(question) if n not in reply]
    if missing:
        return f"figures missing from the reply: {', '.join(missing)}"
    added = [n for n in NUMBER_RE.findall(reply) if n not in question]
    if added:
        return f"the reply adds figures: {', '.join(added)}"  # seen: "45加38等于83。"
    if question.rstrip().endswith("?") and not CHINESE_QUESTION_RE.search(reply) and answers_instead(reply):
        return "the reply answers the question instead of translating it"
    return ""


def answers_instead(reply: str) -> bool:
    """A reply with no question word may still name what is asked (青海2020年平均PM2.5浓度), which searches
    as well as the question; a statement (ending 。) or a list (、) answers it instead (seen: 青海湖、塔尔寺湖;
    省生态环境厅每年向省人民政府报告工作进展情况。)."""
    return reply.rstrip().endswith(("。", ".")) or "、" in reply


def checked(question: str, reply: str) -> str:
    """The reply if it passes the checks, else ""."""
    problem = translation_problem(question, reply)
    if problem:
        log.info("rejected the translation %r of %r: %s", reply[:60], question[:60], problem)
        return ""
    return reply


def clean_reply(text: str) -> str:
    """The question out of a reply: its first non-empty line, without quotes or a label before it."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    line = re.sub(r"^(中文|翻译|译文|Chinese|Translation)\s*[:：]\s*", "", line, flags=re.I)
    return line.strip(" \"'“”「」")


class QuestionTranslations:
    """Chinese renderings of English questions, made by the configured translator and cached."""

    def __init__(self, holder: TranslatorHolder, prompts_dir: Path, cache_dir: Path) -> None:
        self.holder = holder
        self.prompts_dir = prompts_dir
        self.cache_file = cache_dir / CACHE_FILE
        self._lock = threading.Lock()
        self._known: dict[tuple[str, str], str] = {}
        self._loaded = False

    def to_chinese(self, question: str, terms: Sequence[GlossaryEntry] = ()) -> str:
        """The question in Chinese, or "" when there is no translator or its reply fails the check.
        `terms`: the glossary entries the question names, which the translation must use."""
        translator = self.holder.get()
        if translator is None:
            return ""
        key = (translator.model, " ".join(question.lower().split()))
        with self._lock:
            self._load()
            if key in self._known:
                return self._known[key]
        with self.holder.foreground():  # background drafting waits meanwhile
            reply = self._translate(translator, question, terms)
        if reply is None:
            return ""
        zh = checked(question, reply)
        with self._lock:
            self._known[key] = zh
        # a rejected reply is kept too: at temperature 0 the model would reply the same way again. It is
        # checked again on loading, so that a change to the checks applies to it.
        append_records(self.cache_file, [{"en": question, "zh": zh, "reply": reply, "model": translator.model}])
        return zh

    def _translate(self, translator: Translator, question: str, terms: Sequence[GlossaryEntry]) -> str | None:
        """The translator's reply, or None when it could not be asked."""
        lines = "\n".join(f"- {e.en} = {e.zh}" for e in terms) or "- (no glossary term occurs in this question)"
        system = fill(self.prompts_dir / PROMPT_FILE, glossary=lines)
        try:
            return clean_reply(translator.complete([("system", system), ("human", question)], REPLY_TOKENS))
        except GeneratorUnavailableError as exc:
            log.warning("the question was not translated: %s", exc)
            return None

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if not self.cache_file.is_file():
            return
        for line in self.cache_file.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
                question = " ".join(str(record["en"]).lower().split())
                reply = str(record.get("reply", record["zh"]))
                if reply:  # an older record of a rejection without its reply: asked again
                    self._known[(str(record["model"]), question)] = checked(str(record["en"]), reply)
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a line cut short by a crash
