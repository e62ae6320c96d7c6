"""The Gradio chat page: ask in Chinese or English, read a cited answer with its citation cards, browse
the recovered outlines. It calls the same `Assistant` as the CLI; nothing here retrieves or answers."""

from __future__ import annotations

import html
import logging
import queue
import re
import threading
from collections.abc import Iterator
from typing import Any

from assistant import wording
from assistant.errors import PlanqaError
from assistant.models import Answer, Citation, Hit
from assistant.pipeline import Assistant
from assistant.text import has_han, split_claims

log = logging.getLogger(__name__)

TEXT = wording.APP_TEXT
# Example questions made from a plan's own title when the settings give none.
EXAMPLE_TEMPLATES = {"zh": "《{title}》提出了哪些主要目标？", "en": "What are the main targets of the {title}?"}
FOLLOW_UP_RE = re.compile(r"^(and|what about|how about|also|那|还有|那么|另外|其中)\b|^(and|what about)\s", re.I)
CARD_CSS = """
.planqa-card {border: 1px solid #d0d7de; border-radius: 8px; padding: 10px 12px; margin: 8px 0;}
.planqa-card .place {font-weight: 600;}
.planqa-card .place-zh {color: #57606a; font-size: 0.9em;}
.planqa-card .quote {margin: 6px 0; line-height: 1.6;}
.planqa-card mark {background: #fff3b0;}
.planqa-card .english {color: #24292f; border-left: 3px solid #8c959f; padding-left: 8px; margin: 6px 0;}
.planqa-card .pair {display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 14px;}
.planqa-card .label {color: #57606a; font-size: 0.8em; text-transform: uppercase; letter-spacing: 0.03em;}
@media (max-width: 720px) {.planqa-card .pair {grid-template-columns: minmax(0, 1fr); gap: 0;}}
.planqa-card .meta {color: #57606a; font-size: 0.85em;}
"""


def contextual_question(message: str, history: list[dict[str, Any]]) -> str:
    """A short follow-up ("and for 2025?", "那2025年呢？") is asked together with the previous question."""
    previous = [m["content"] for m in history if m.get("role") == "user"]
    short = len(message) <= 12 if has_han(message) else len(message.split()) <= 5
    if previous and (short or FOLLOW_UP_RE.search(message.strip())):
        return f"{previous[-1]} {message}"
    return message


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def highlight_quote(passage: str, quote: str) -> str:
    """The passage, escaped, with the supporting sentence(s) marked."""
    escaped = esc(passage)
    for sentence in split_claims(quote):
        escaped = escaped.replace(esc(sentence), f"<mark>{esc(sentence)}</mark>", 1)
    return escaped.replace("\n", "<br>")


def section_text(assistant: Assistant, chunk) -> str:
    return "\n".join(p.chunk.text for p in assistant.view.place_passages(chunk.doc_id, chunk.path))


def citation_card(assistant: Assistant, citation: Citation, score: float, lang: str, ui: str) -> str:
    doc = assistant.view.document(citation.chunk.doc_id)
    english = lang == "en"
    title_en = assistant.view.english_title(doc.id)
    title = title_en if english and title_en else f"《{doc.title}》"
    place = citation.heading_en if english and citation.heading_en else citation.heading
    rendering = assistant.view.english_text(citation.chunk.id) if english else ""
    parts = [
        '<div class="planqa-card">',
        f'<div class="place">[{citation.n}] {esc(title)} › {esc(place)}</div>',
    ]
    if english:
        parts.append(f'<div class="place-zh">《{esc(doc.title)}》 › {esc(citation.heading)}</div>')
    parts.append(quote_html(citation, rendering, ui))
    parts.append(f'<div class="meta">{esc(TEXT[ui]["score"])} {score:.4f}</div>')
    context = section_text(assistant, citation.chunk)
    parts.append(
        f"<details><summary>{esc(TEXT[ui]['context'])}</summary>{esc(context).replace(chr(10), '<br>')}</details>"
    )
    parts.append("</div>")
    return "".join(parts)


def quote_html(citation: Citation, rendering: str, ui: str) -> str:
    """The quoted passage; with an English rendering, the two side by side (Chinese original | English),
    stacked on a narrow screen (see CARD_CSS)."""
    quote = highlight_quote(citation.chunk.text, citation.quote)
    if not rendering:
        return f'<div class="quote" lang="zh">{quote}</div>'
    t = TEXT[ui]
    return (
        '<div class="pair">'
        f'<div class="quote" lang="zh"><div class="label">{esc(t["original"])}</div>{quote}</div>'
        f'<div class="english" lang="en"><div class="label">{esc(t["rendering"])}</div>{esc(rendering)}'
        f"<br><em>({esc(t['unofficial'])})</em></div>"
        "</div>"
    )


def hit_card(assistant: Assistant, hit: Hit, lang: str, ui: str) -> str:
    view = assistant.view
    heading_en = view.english_heading(hit.chunk.id)
    citation = Citation(
        hit.rank, hit.chunk, view.document(hit.chunk.doc_id).title, hit.chunk.path.label(), heading_en, ""
    )
    return citation_card(assistant, citation, hit.score, lang, ui)


def cards_html(assistant: Assistant, answer: Answer, ui: str) -> str:
    scores = {h.chunk.id: h.score for h in answer.hits}
    if answer.abstained and not answer.citations:
        cards = [hit_card(assistant, h, answer.lang, ui) for h in answer.hits[:3]]
        return f"<h4>{esc(TEXT[ui]['closest'])}</h4>" + "".join(cards)
    if answer.kind == "overview":
        return (
            f"<h4>{esc(TEXT[ui]['places'])}</h4><ol class='planqa-places'>"
            + "".join(
                f"<li>{place_card(assistant, group, scores, answer.lang, ui)}</li>"
                for group in by_place(answer.citations)
            )
            + "</ol>"
        )
    cards = [citation_card(assistant, c, scores.get(c.chunk.id, 0.0), answer.lang, ui) for c in answer.citations]
    return f"<h4>{esc(TEXT[ui]['citations'])}</h4>" + "".join(cards)


def by_place(citations: tuple[Citation, ...]) -> list[list[Citation]]:
    """Citations grouped by the place they come from, in order of first appearance."""
    groups: dict[tuple, list[Citation]] = {}
    for c in citations:
        groups.setdefault((c.chunk.doc_id, c.chunk.path), []).append(c)
    return list(groups.values())


def place_card(assistant: Assistant, group: list[Citation], scores: dict, lang: str, ui: str) -> str:
    """One card for a place of an overview: its first citation's card, with every quote of the place."""
    first = group[0]
    quote = "".join(c.quote for c in group)
    merged = Citation(first.n, first.chunk, first.doc_title, first.heading, first.heading_en, quote)
    return citation_card(assistant, merged, max(scores.get(c.chunk.id, 0.0) for c in group), lang, ui)


def answer_markdown(answer: Answer) -> str:
    """The answer as shown in the chat bubble: escaped, with notes in small type."""
    text = esc(answer.text).replace("\n", "<br>")
    notes = "".join(f"<br><small>ⓘ {esc(n)}</small>" for n in answer.notes)
    return text + notes


def outline_markdown(assistant: Assistant, doc_id: str | None) -> str:
    from assistant.interfaces.browse import outline_lines

    if not doc_id:
        return ""
    return "```\n" + "\n".join(outline_lines(assistant.view, doc_id)) + "\n```"


def available_modes(assistant: Assistant) -> list[str]:
    from assistant.answer.model_fetch import default_gguf_path

    modes = ["extractive"]
    if assistant.settings.openai_configured:
        modes.append("openai")
    if assistant.settings.gguf_path or default_gguf_path().is_file():
        modes.append("llamacpp")
    return modes


def respond(
    assistant: Assistant, message: str, history: list[dict[str, Any]], ui: str, doc: str, mode: str, k: float
) -> Iterator[tuple[list[dict[str, Any]], str, str]]:
    """One chat turn: (chat history, citation cards, new textbox value), streamed. An LLM's tokens show
    as they come; the answer is generated once, and what is shown in the end is that same text once it
    passed the check (or the extractive answer that replaced it, with a note saying why)."""
    history = list(history or [])
    message = (message or "").strip()
    if not message:
        yield history + [{"role": "assistant", "content": esc(TEXT[ui]["empty"])}], "", ""
        return
    history.append({"role": "user", "content": esc(message)})
    question = contextual_question(message, history[:-1])
    doc_id = None if doc in (None, "", "*") else doc
    shown = ""
    try:
        for item in ask_streaming(assistant, question, mode, doc_id, int(k)):
            if isinstance(item, str):
                shown += item
                yield history + [{"role": "assistant", "content": esc(shown) + " ▌"}], "", ""
            else:
                history.append({"role": "assistant", "content": answer_markdown(item)})
                yield history, cards_html(assistant, item, ui), ""
    except PlanqaError as exc:
        yield history + [{"role": "assistant", "content": esc(str(exc))}], "", ""


def ask_streaming(assistant: Assistant, question: str, mode: str, doc_id: str | None, k: int) -> Iterator[str | Answer]:
    """`Assistant.ask` in a worker thread: the generator's tokens as they are written, then the Answer.
    Extractive answers are quick and come whole."""
    if mode == "extractive":
        yield assistant.ask(question, mode=mode, doc=doc_id, top_k=k)
        return
    tokens: queue.Queue = queue.Queue()
    done = object()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["answer"] = assistant.ask(question, mode=mode, doc=doc_id, top_k=k, on_token=tokens.put)
        except Exception as exc:  # handed to the caller's thread, which reports PlanqaErrors
            outcome["error"] = exc
        finally:
            tokens.put(done)

    threading.Thread(target=work, name="planqa-answer", daemon=True).start()
    while (token := tokens.get()) is not done:
        yield token
    if "error" in outcome:
        raise outcome["error"]
    yield outcome["answer"]


def page_title(assistant: Assistant, ui: str) -> str:
    return assistant.settings.app_title or TEXT[ui]["title"]


def examples(assistant: Assistant) -> list[str]:
    """The settings' example questions, else one in each language from each of the first two plans' titles."""
    if assistant.settings.app_examples:
        return [q.strip() for q in assistant.settings.app_examples.split("|") if q.strip()]
    out = []
    for doc in assistant.view.documents[:2]:
        out.append(EXAMPLE_TEMPLATES["zh"].format(title=doc.title))
        if title_en := assistant.view.english_title(doc.id):
            out.append(EXAMPLE_TEMPLATES["en"].format(title=title_en))
    return out


def build_app(assistant: Assistant):
    import gradio as gr

    docs = [(TEXT["zh"]["all_docs"] + " / " + TEXT["en"]["all_docs"], "*")] + [
        (f"{d.title} / {en}" if (en := assistant.view.english_title(d.id)) else d.title, d.id)
        for d in assistant.view.documents
    ]
    example_questions = examples(assistant)

    def placeholder(ui: str) -> str:
        wanted = [q for q in example_questions if (ui == "zh") == has_han(q)] or example_questions or [""]
        return TEXT[ui]["placeholder"].format(example=wanted[0])

    with gr.Blocks(title="planqa") as demo:
        ui_lang = gr.State("zh")
        header = gr.Markdown(f"## {page_title(assistant, 'zh')}\n{TEXT['zh']['subtitle']}", elem_id="planqa-header")
        with gr.Tab("Chat / 问答"):
            with gr.Row():
                with gr.Column(scale=3):
                    chat = gr.Chatbot(height=420, elem_id="planqa-chat", sanitize_html=True, render_markdown=False)
                    box = gr.Textbox(
                        placeholder=placeholder("zh"),
                        show_label=False,
                        elem_id="planqa-question",
                        max_length=assistant.settings.max_question_chars * 5,
                    )
                    with gr.Row():
                        send = gr.Button(TEXT["zh"]["send"], variant="primary", elem_id="planqa-send")
                        new = gr.Button(TEXT["zh"]["new"], elem_id="planqa-new")
                    if example_questions:
                        gr.Examples(example_questions, inputs=box)
                    cards = gr.HTML(elem_id="planqa-cards")
                with gr.Column(scale=1):
                    language = gr.Radio(
                        [("中文", "zh"), ("English", "en")],
                        value="zh",
                        label="界面语言 / Language",
                        elem_id="planqa-lang",
                    )
                    doc = gr.Dropdown(docs, value="*", label="文件 / Document")
                    mode = gr.Radio(available_modes(assistant), value="extractive", label="回答方式 / Mode")
                    k = gr.Slider(3, 20, value=assistant.settings.top_k, step=1, label="段落数 / Passages")
        with gr.Tab("Documents / 文件目录"):
            pick = gr.Dropdown(docs[1:], value=docs[1][1] if len(docs) > 1 else None, label="文件 / Document")
            outline = gr.Markdown(outline_markdown(assistant, docs[1][1] if len(docs) > 1 else None))
            pick.change(lambda d: outline_markdown(assistant, d), pick, outline)

        def turn(message, history, ui, doc_id, mode_name, k_value):
            yield from respond(assistant, message, history, ui, doc_id, mode_name, k_value)

        inputs = [box, chat, ui_lang, doc, mode, k]
        send.click(turn, inputs, [chat, cards, box], api_name=False)
        box.submit(turn, inputs, [chat, cards, box], api_name=False)
        new.click(lambda: ([], "", ""), None, [chat, cards, box], api_name=False)

        def switch(ui):
            t = TEXT[ui]
            return (
                ui,
                f"## {page_title(assistant, ui)}\n{t['subtitle']}",
                gr.update(placeholder=placeholder(ui)),
                gr.update(value=t["send"]),
                gr.update(value=t["new"]),
            )

        language.change(switch, language, [ui_lang, header, box, send, new], api_name=False)
        # follow the browser's language on first load
        demo.load(
            None, None, language, js="() => (navigator.language || 'zh').toLowerCase().startsWith('zh') ? 'zh' : 'en'"
        )

        def api_ask(question: str, doc_id: str = "*", mode_name: str = "extractive", k_value: float = 10) -> dict:
            from assistant.interfaces.presentation import answer_json

            answer = assistant.ask(
                question, mode=mode_name, doc=None if doc_id in ("", "*") else doc_id, top_k=int(k_value)
            )
            return answer_json(assistant.view, answer)

        gr.api(api_ask, api_name="ask")
    return demo


def serve(assistant: Assistant, host: str, port: int, block: bool = True):
    demo = build_app(assistant)
    demo.queue(default_concurrency_limit=4)
    return demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        prevent_thread_lock=not block,
        show_error=True,
        css=CARD_CSS,
        footer_links=[],
        state_session_capacity=assistant.settings.page_sessions,
    )
