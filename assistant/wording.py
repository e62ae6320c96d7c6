"""Every sentence planqa shows a person, in both languages, in one place: answers' fixed phrases, notes,
names of a plan's parts and the web page's labels. Prompts take their "not found" reply from here too."""

from __future__ import annotations

# What an answer says when the plans do not say (the closest passages are still listed under it).
ABSTAIN = {
    "zh": "规划文件中没有找到对这个问题的明确表述。下面列出最接近的段落，供参考。",
    "en": "The plans do not say. The closest passages are listed below for reference.",
}
# What an answer says to a question that is not about the plans (small talk, arithmetic, writing, …).
REFUSE = {
    "zh": "已收录的规划文件没有涉及这个问题；我只能回答规划文件中的内容，例如其中的目标、措施、项目、地点和名词解释。",
    "en": "The indexed plans do not cover this; I can answer questions about what they say, such as their "
    "targets, measures, projects, places and glossary terms.",
}
# Opens an answer whose evidence speaks of the subject but gives no figure for it.
NO_FIGURE = {
    "zh": "规划文件没有给出这个问题所问的具体数字。相关表述如下：",
    "en": "The plans set no figure for this. What they say: ",
}


def overview_opening(lang: str, places: int) -> str:
    """The first line of a topic overview: how many places address the subject."""
    if lang == "zh":
        return f"规划文件中有{places}处涉及这一问题："
    return f"The plans address this in {places} place{'s' if places != 1 else ''}:"


# The reply the LLM prompts ask for when the passages do not answer, and the phrases that mean it.
LLM_NOT_FOUND = {"zh": "规划文件中没有找到相关内容。", "en": "The plans do not say."}
LLM_NOT_FOUND_PHRASES = ("没有找到相关内容", "plans do not say", "plans do not mention")

# Names of the parts of a plan that are not chapters, sections or boxes.
PART_NAMES = {
    "notice": {"zh": "印发通知", "en": "Issuing notice"},
    "preface": {"zh": "前言", "en": "Preface"},
    "glossary": {"zh": "附件 名词解释", "en": "Appendix: Glossary"},
    "chapter_lead": {"zh": "(导语)", "en": "(lead)"},
}

# An English answer built from Chinese sentences.
ACCORDING_TO = "According to the {where}: "
QUOTED_IN_CHINESE = "The plan states (in Chinese): “{sentence}” [{n}]"


def note_truncated(length: int, kept: int) -> str:
    return f"the question was {length} characters; only the first {kept} were used"


NOTE_UNOFFICIAL = "English renderings of the Chinese plans are unofficial"
NOTE_MACHINE_DRAFTS = "some English here was machine-translated just now ({model}) and has not been reviewed"

# How to get English for a plan that has none: said by `planqa translate` without a translator, and with
# every English answer that quotes such a plan in Chinese.
NO_TRANSLATOR_HELP = (
    "no translator is configured: run `planqa model fetch` (a local model; needs pip install -e '.[local]'), "
    "or set PLANQA_TRANSLATOR=openai with PLANQA_OPENAI_BASE_URL and PLANQA_OPENAI_MODEL"
)
DRAFTS_REJECTED = (
    "its machine translation did not pass the checks (every figure kept, no Chinese left); "
    "`planqa translate <plan>` tries again"
)


def note_no_rendering(titles: list[str], why: str) -> str:
    """For an English answer quoting plans in Chinese: which plans lack English there, and why."""
    return f"no English rendering exists yet for part of {'; '.join(titles)}, so it is quoted in Chinese: {why}"


def translator_failed(reason: str) -> str:
    return f"the translator failed ({reason})"


def note_generator_unavailable(mode: str, reason: object) -> str:
    return f"{mode} is unavailable ({reason}); this is the extractive answer"


def note_generator_found_nothing(mode: str) -> str:
    return f"the {mode} model found no answer in its passages; this is the extractive answer"


def note_check_failed(mode: str, reason: str) -> str:
    return f"the {mode} answer failed the citation check ({reason}); this is the extractive answer"


# The web page's labels. The title names the corpus: `app_title` in the settings, else generic.
APP_TEXT = {
    "zh": {
        "title": "规划文件问答",
        "subtitle": "用中文或英文提问，答案注明出处（文件 › 章 › 节）。",
        "placeholder": "例如：{example}",
        "send": "提问",
        "new": "新对话",
        "docs": "文件",
        "all_docs": "全部文件",
        "mode": "回答方式",
        "k": "检索段落数",
        "language": "界面语言",
        "citations": "引用",
        "closest": "最接近的段落",
        "places": "涉及的章节",
        "browser": "文件目录",
        "empty": "请输入问题。",
        "score": "得分",
        "context": "展开所在章节全文",
        "unofficial": "英文为非官方译文",
        "original": "中文原文",
        "rendering": "英文译文",
    },
    "en": {
        "title": "Plan documents Q&A",
        "subtitle": "Ask in Chinese or English; every answer names its source (document › chapter › section).",
        "placeholder": "e.g. {example}",
        "send": "Ask",
        "new": "New chat",
        "docs": "Document",
        "all_docs": "All documents",
        "mode": "Answer mode",
        "k": "Passages retrieved",
        "language": "Interface language",
        "citations": "Citations",
        "closest": "Closest passages",
        "places": "Places that address it",
        "browser": "Documents",
        "empty": "Please type a question.",
        "score": "score",
        "context": "Show the whole section",
        "unofficial": "English renderings are unofficial",
        "original": "Chinese original",
        "rendering": "English rendering",
    },
}
CLOSEST_PASSAGES = {"zh": "最接近的段落：", "en": "Closest passages:"}
