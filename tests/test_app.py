"""The web app: a real Gradio server on loopback, driven by headless Chromium (Debian's, through
Playwright) and by gradio_client; the same Assistant as the CLI."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.interfaces.app import CARD_CSS, build_app, contextual_question, highlight_quote, quote_html
from assistant.models import Chunk, Citation, SectionPath

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
needs_browser = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="no Chromium here (make test installs Debian's chromium when it can)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(real_assistant):
    demo = build_app(real_assistant)
    demo.queue()
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, css=CARD_CSS, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture
def page(app_url):
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1300, "height": 1100}, locale="zh-CN")
        page.goto(app_url)
        page.wait_for_selector("#planqa-question textarea", timeout=60_000)
        yield page
        browser.close()


def ask(page, question: str) -> None:
    page.fill("#planqa-question textarea", question)
    page.click("#planqa-send")
    page.wait_for_function(
        "q => document.querySelector('#planqa-chat') && document.querySelectorAll('.planqa-card').length > 0"
        " && !document.querySelector('#planqa-chat').innerText.includes('▌')",
        arg=question,
        timeout=60_000,
    )


@needs_browser
def test_browser_chinese_then_english_question(page):
    ask(page, "青海光伏资源理论可开发量是多少？")
    assert "35亿千瓦" in page.inner_text("#planqa-chat")
    card = page.inner_text(".planqa-card")
    assert "第一章 规划背景 › 第一节 发展基础" in card and "35亿千瓦" in card
    assert page.query_selector(".planqa-card mark") is not None, "the supporting sentence is highlighted"
    assert page.query_selector(".planqa-card .pair") is None, "a Chinese answer's card is one column"
    screenshot(page, "app-zh.png")
    page.click("#planqa-new")
    page.wait_for_function("() => document.querySelectorAll('.planqa-card').length === 0")
    page.check("#planqa-lang input[value='en']")
    ask(page, "How much photovoltaic potential does Qinghai have in theory?")
    chat = page.inner_text("#planqa-chat")
    assert "3.5 billion kW" in chat and "According to the" in chat
    card = page.inner_text(".planqa-card")
    assert "Chapter 1 Planning Background" in card and "unofficial" in card
    chinese, english = quote_boxes(page)
    assert english["x"] >= chinese["x"] + chinese["width"] and abs(english["y"] - chinese["y"]) < 2, "side by side"
    screenshot(page, "app-en.png")
    page.set_viewport_size({"width": 600, "height": 1100})
    chinese, english = quote_boxes(page)
    assert english["y"] >= chinese["y"] + chinese["height"] - 1 and abs(english["x"] - chinese["x"]) < 2, "stacked"


def quote_boxes(page) -> tuple[dict, dict]:
    """Where the first card's Chinese original and English rendering are drawn."""
    card = page.locator(".planqa-card").first
    return card.locator(".pair > .quote").bounding_box(), card.locator(".pair > .english").bounding_box()


@needs_browser
def test_browser_shows_html_as_text(page):
    ask(page, "<img src=x onerror=\"document.title='pwned'\"> 青海光伏资源理论可开发量是多少？")
    assert page.title() != "pwned"
    assert page.query_selector("#planqa-chat img[src='x']") is None
    assert "<img src=x" in page.inner_text("#planqa-chat")


@needs_browser
def test_browser_empty_question_gets_a_message(page):
    page.click("#planqa-send")
    page.wait_for_function("() => document.querySelector('#planqa-chat').innerText.includes('请输入问题')")


@needs_browser
def test_browser_document_outline(page):
    page.get_by_role("tab", name="Documents / 文件目录").click()
    page.wait_for_selector("text=第十二章 保障措施")


def test_api_through_gradio_client(app_url):
    from gradio_client import Client

    result = Client(app_url, verbose=False).predict("青海光伏资源理论可开发量是多少？", api_name="/ask")
    assert "35亿千瓦" in result["answer"] and result["citations"][0]["heading"].startswith("第一章")
    assert len(result["passages"]) >= 10


def test_serve_refuses_a_public_address_without_the_flag(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "assistant.interfaces.cli", "--index", str(tmp_path), "serve", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "--allow-remote" in out.stderr


def test_follow_up_questions_carry_the_previous_one():
    history = [{"role": "user", "content": "2020年清洁能源装机比重是多少？"}, {"role": "assistant", "content": "…"}]
    assert contextual_question("那2025年呢？", history) == "2020年清洁能源装机比重是多少？ 那2025年呢？"
    assert contextual_question("and for 2025?", history).endswith("and for 2025?")
    assert contextual_question("青海湖流域有哪些治理工程？", history) == "青海湖流域有哪些治理工程？"


def test_highlight_escapes_and_marks():
    out = highlight_quote("甲<b>乙</b>。丙。", "丙。")
    assert "<b>" not in out and "&lt;b&gt;" in out and "<mark>丙。</mark>" in out


def test_card_pairs_the_quote_with_its_rendering_only_when_there_is_one():
    path = SectionPath("body", 1, "规划背景", 1, "发展基础")
    chunk = Chunk("c1", "d1", path, "青海光伏资源理论可开发量达35亿千瓦。", "", ((0, 19),), 0)
    citation = Citation(1, chunk, "规划", path.label(), "", "青海光伏资源理论可开发量达35亿千瓦。")
    alone = quote_html(citation, "", "en")
    assert "pair" not in alone and alone.count('class="quote"') == 1 and "<mark>" in alone
    paired = quote_html(citation, "Qinghai's <theoretical> potential is 3.5 billion kW.", "en")
    assert paired.startswith('<div class="pair"><div class="quote" lang="zh">') and "<mark>" in paired
    assert '<div class="english" lang="en">' in paired and "&lt;theoretical&gt;" in paired
    assert "Chinese original" in paired and "English rendering" in paired and "unofficial" in paired
    assert "@media (max-width: 720px)" in CARD_CSS and "grid-template-columns" in CARD_CSS


def screenshot(page, name: str) -> None:
    folder = os.environ.get("PLANQA_SCREENSHOT")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def test_an_llm_answer_is_generated_once_streamed_and_kept(real_assistant):
    """The page shows the model's tokens as they come, and the checked answer is that same generation:
    one request to the model, not one to stream and another to check."""
    from assistant.interfaces.app import respond
    from tests.stub_llm import StubLLM

    with StubLLM() as stub:
        stub.reply = "据测算，青海光伏资源理论可开发量达35亿千瓦[1]。"
        assistant = real_assistant.with_settings(openai_base_url=stub.base_url, openai_api_key="test")
        turns = list(respond(assistant, "青海光伏资源理论可开发量是多少？", [], "zh", "*", "openai", 10))
    assert len(stub.requests) == 1
    assert any("▌" in history[-1]["content"] for history, _, _ in turns[:-1]), "tokens were shown as they came"
    history, cards, _ = turns[-1]
    assert history[-1]["content"].startswith(stub.reply) and "▌" not in history[-1]["content"]
    assert "35亿千瓦" in cards
