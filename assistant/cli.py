"""The `assistant` command: build, update and inspect the index; ask; start the UI; evaluate."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from assistant.articles import safe_name
from assistant.backends import BACKENDS
from assistant.errors import AssistantError
from assistant.settings import Settings
from assistant.types import Answer, Filters, IngestReport

BACKEND_CHOICE = click.Choice(list(BACKENDS))


class _Group(click.Group):
    """Show `AssistantError`s as one-line messages, not tracebacks."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AssistantError as exc:
            raise click.ClickException(str(exc)) from exc


def _settings(ctx: click.Context, **changes: Any) -> Settings:
    from assistant.settings import resolve_settings

    base: dict[str, Any] = {}
    if ctx.obj.get("index"):
        base["index_dir"] = ctx.obj["index"]
    if ctx.obj.get("store_url"):
        base["store"] = {"url": ctx.obj["store_url"]}
    for key, value in changes.items():
        if value is None:
            continue
        group, _, name = key.partition("__")
        if name:
            base.setdefault(group, {})[name] = value
        else:
            base[key] = value
    return resolve_settings(base)


@click.group(cls=_Group)
@click.option(
    "--index",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="ASSISTANT_INDEX_DIR",
    help="Index folder (default: the project's index/).",
)
@click.option(
    "--store-url",
    help="PostgreSQL database holding the index (postgresql://user@host:port/db) instead of "
    "the --index folder; also ASSISTANT_STORE__URL.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log the libraries' messages too.")
@click.option("-q", "--quiet", is_flag=True, help="No progress messages (loading, embedding).")
@click.pass_context
def main(
    ctx: click.Context, index: Path | None, store_url: str | None, verbose: bool, quiet: bool
) -> None:
    """Answer questions about news articles, citing the passages."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # Our own progress lines (loading models, embedding) go to stderr unless --quiet.
    logging.getLogger("assistant").setLevel(logging.WARNING if quiet else logging.INFO)
    ctx.obj = {"index": index, "store_url": store_url}


@main.group()
def index() -> None:
    """Build, update and inspect the index."""


def _print_report(report: IngestReport) -> None:
    """One line per file; names are escaped (a file name may hold a newline or an ANSI code)."""
    for title, items in (
        ("added", report.added),
        ("updated", report.updated),
        ("removed", report.removed),
    ):
        for name in items:
            click.echo(f"  {title:9} {safe_name(name)}")
    for item in report.duplicates:
        click.echo(f"  duplicate {safe_name(item.name)}: {safe_name(item.reason)}")
    for item in report.rejected:
        click.echo(f"  rejected  {safe_name(item.name)}: {safe_name(item.reason)}", err=True)
    for item in report.warnings:
        click.echo(f"  warning   {safe_name(item.name)}: {safe_name(item.reason)}", err=True)
    click.echo(
        f"{len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {len(report.duplicates)} duplicates, "
        f"{len(report.removed)} removed, {len(report.rejected)} rejected; "
        f"{report.chunks_embedded} chunks embedded in {report.seconds:.1f}s"
    )


FOLLOW_SYMLINKS = click.option(
    "--follow-symlinks",
    is_flag=True,
    default=None,
    help="Also read symlinks that point outside the folder (default: skip and report them).",
)


@index.command("build")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@FOLLOW_SYMLINKS
@click.pass_context
def index_build(ctx: click.Context, paths: tuple[Path, ...], follow_symlinks: bool | None) -> None:
    """Build the index from scratch from article files or folders."""
    from assistant.core import Assistant

    settings = _settings(ctx, follow_symlinks=follow_symlinks)
    report = Assistant(settings).build_index(paths, progress=True)
    _print_report(report)


@index.command("add")
@click.argument("sources", nargs=-1, required=True)
@FOLLOW_SYMLINKS
@click.pass_context
def index_add(ctx: click.Context, sources: tuple[str, ...], follow_symlinks: bool | None) -> None:
    """Add new or changed articles from files, folders, web pages or RSS/Atom feeds (URLs).

    Unchanged articles are skipped without embedding; a feed adds the page of every item.
    """
    from assistant.articles import load_paths
    from assistant.core import Assistant
    from assistant.web import is_url, load_urls

    urls = [s for s in sources if is_url(s)]
    paths = [Path(s) for s in sources if not is_url(s)]
    for path in paths:
        if not path.exists():
            raise click.BadParameter(f"{path} does not exist", param_hint="SOURCES")
    settings = _settings(ctx, follow_symlinks=follow_symlinks)
    loaded = load_paths(
        paths, max_bytes=settings.max_article_bytes, follow_symlinks=settings.follow_symlinks
    )
    load_urls(urls, settings, result=loaded, progress=True)
    _print_report(Assistant(settings).add_loaded(loaded, progress=True))


@index.command("sync")
@click.argument("feeds_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def index_sync(ctx: click.Context, feeds_file: Path) -> None:
    """Add the new items of the RSS/Atom feeds listed in FEEDS_FILE (one URL a line, # notes).

    Items already indexed are not fetched again; run it from cron to follow the feeds.
    """
    from assistant.core import Assistant
    from assistant.web import read_feeds_file

    feeds = read_feeds_file(feeds_file.read_text(encoding="utf-8"), str(feeds_file))
    if not feeds:
        raise click.ClickException(f"{feeds_file} lists no feed URL")
    _print_report(Assistant(_settings(ctx)).sync_feeds(feeds, progress=True))


@index.command("remove")
@click.argument("ids", nargs=-1, required=True)
@click.pass_context
def index_remove(ctx: click.Context, ids: tuple[str, ...]) -> None:
    """Remove articles by id, url or file path (see `index list`)."""
    from assistant.core import Assistant

    report = Assistant(_settings(ctx)).remove_articles(ids)
    _print_report(report)
    if report.rejected and not report.removed:
        sys.exit(1)


@index.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def index_list(ctx: click.Context, as_json: bool) -> None:
    """List the indexed articles: id, date, source, chunks, title."""
    from assistant.core import Assistant

    for row in Assistant(_settings(ctx)).articles():
        if as_json:
            fields = ("id", "title", "date", "source", "url", "key", "chunks")
            click.echo(json.dumps({f: getattr(row, f) for f in fields}, ensure_ascii=False))
        else:
            click.echo(
                f"{row.id}  {row.date or '----------'}  {(row.source or '-')[:20]:20}  "
                f"{row.chunks:3}  {safe_name(row.title)}"
            )


@index.command("stats")
@click.pass_context
def index_stats(ctx: click.Context) -> None:
    """Counts, sources, date range and embedding model of the index."""
    from assistant.core import Assistant

    for key, value in Assistant(_settings(ctx)).stats().items():
        if isinstance(value, list | tuple):
            value = ", ".join(value)
        click.echo(f"{key:16} {value}")


@index.command("verify")
@click.pass_context
def index_verify(ctx: click.Context) -> None:
    """Check the index against its manifest (file checksums, or the database's counts)."""
    from assistant.stores import open_store

    settings = _settings(ctx)
    click.echo(open_store(settings).verify(settings))


@index.command("migrate")
@click.option(
    "--to",
    "target",
    required=True,
    help="postgresql://user@host:port/db to copy the index into PostgreSQL, or a new folder "
    "to export it as a FAISS index.",
)
@click.pass_context
def index_migrate(ctx: click.Context, target: str) -> None:
    """Copy the index (articles, chunks, vectors) to another backend without re-embedding."""
    from assistant.stores.migrate import migrate

    done = migrate(_settings(ctx), target)
    click.echo(
        f"copied {done.articles} articles and {done.chunks} chunks from {done.source} to "
        f"{done.target} in {done.seconds:.1f}s; counts and checksum sha256:{done.checksum[:16]} "
        "match"
    )


def question_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options `ask` and `chat` share: passages, the LLM backend, and the filters."""
    options = [
        click.option("-k", type=int, help="Passages to retrieve."),
        click.option(
            "--backend", type=BACKEND_CHOICE, help="LLM backend (default: the bundled local model)."
        ),
        click.option("--model", help="Model name (openai/ollama) or GGUF path (llamacpp)."),
        click.option("--base-url", help="Server URL for openai/ollama."),
        click.option("--date-from", help="Only articles dated on or after YYYY-MM-DD."),
        click.option("--date-to", help="Only articles dated on or before YYYY-MM-DD."),
        click.option("--source", "sources", multiple=True, help="Only articles from this source."),
        click.option(
            "--as-of",
            help="Ask as of YYYY-MM-DD: later articles are left out and 'this week' counts from "
            "it (default: today, or the newest article's date).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _filters(
    date_from: str | None, date_to: str | None, sources: tuple[str, ...], as_of: str | None
) -> Filters:
    try:
        return Filters(date_from, date_to, tuple(sources), as_of)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@main.command()
@click.argument("question")
@question_options
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@click.pass_context
def ask(
    ctx: click.Context,
    question: str,
    k: int | None,
    backend: str | None,
    model: str | None,
    base_url: str | None,
    date_from: str | None,
    date_to: str | None,
    sources: tuple[str, ...],
    as_of: str | None,
    as_json: bool,
) -> None:
    """Answer QUESTION from the indexed articles and list the cited sources."""
    from dataclasses import asdict

    from assistant.core import Assistant

    settings = _settings(ctx, llm__backend=backend, llm__model=model, llm__base_url=base_url)
    filters = _filters(date_from, date_to, sources, as_of)
    assistant = Assistant(settings)
    result, streamed = None, ""
    for event in assistant.stream(question, k=k, filters=filters):
        if event.kind == "token" and not as_json:
            streamed += event.text
            click.echo(event.text, nl=False)
        elif event.answer is not None:
            result = event.answer
    assert result is not None
    if as_json:
        payload = asdict(result)
        payload.pop("passages")
        payload["dates"] = list(result.dates)
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    _finish_answer(result, streamed)
    _print_sources(result)


def _finish_answer(result: Answer, streamed: str) -> None:
    if result.text.strip() != streamed.strip():
        # Markers were checked against the sources: show the corrected text once more.
        click.echo(("\n\n" if streamed else "") + f"Answer: {result.text}", nl=False)
    click.echo("\n")


def _print_sources(result: Answer, brief: bool = False) -> None:
    """The cited sources: title and date, then (unless `brief`) url, span, score and text."""
    if result.citations and not brief:
        dates = result.dates
        span = " to ".join(dict.fromkeys((dates[0], dates[-1]))) if dates else ""
        click.echo(f"Sources{f' (articles dated {span})' if span else ''}:")
    for c in result.citations:
        meta = ", ".join(x for x in (c.date, c.source) if x)
        click.echo(f"[{c.number}] {safe_name(c.title)}" + (f" ({safe_name(meta)})" if meta else ""))
        if brief:
            continue
        if c.url:
            click.echo(f"    {c.url}")
        click.echo(f"    chars {c.start}-{c.end}, score {c.score:.3f}")
        click.echo("    " + c.text.replace("\n", " ")[:300] + ("…" if len(c.text) > 300 else ""))


CHAT_HELP = "Commands: /sources (the last answer's sources), /reset (new conversation), /quit."


@main.command()
@question_options
@click.pass_context
def chat(
    ctx: click.Context,
    k: int | None,
    backend: str | None,
    model: str | None,
    base_url: str | None,
    date_from: str | None,
    date_to: str | None,
    sources: tuple[str, ...],
    as_of: str | None,
) -> None:
    """Talk with the assistant: follow-up questions use the conversation so far."""
    from contextlib import closing

    from assistant.core import Assistant

    if sys.stdin.isatty():
        import readline  # noqa: F401  (line editing and arrow-key recall for input())

    settings = _settings(ctx, llm__backend=backend, llm__model=model, llm__base_url=base_url)
    filters = _filters(date_from, date_to, sources, as_of)
    assistant = Assistant(settings)
    assistant.index()  # a missing or broken index fails here, before the first question
    # the local model reads its prompts' instructions while the first question is typed
    threading.Thread(target=assistant.warm_up, name="warm-up").start()
    click.echo(f"Ask about the indexed articles. {CHAT_HELP}")
    history: list[Answer] = []
    while True:
        try:
            line = input("> ").strip()
        except (EOFError, KeyboardInterrupt):
            click.echo()
            return
        if not line:
            continue
        if line.startswith("/"):
            command = line.split()[0].lower()
            if command in ("/quit", "/exit", "/q"):
                return
            if command == "/reset":
                history.clear()
                click.echo("New conversation: earlier questions are forgotten.")
            elif command == "/sources":
                if not history or not history[-1].citations:
                    click.echo("The last answer cites no sources.")
                else:
                    _print_sources(history[-1])
            else:
                click.echo(f"Unknown command {command}. {CHAT_HELP}")
            continue
        streamed, result = "", None
        events = assistant.stream(line, history=history, k=k, filters=filters)
        try:
            with closing(events):  # Ctrl-C stops this answer and releases the model at once
                for event in events:
                    if event.kind == "token":
                        streamed += event.text
                        click.echo(event.text, nl=False)
                    elif event.answer is not None:
                        result = event.answer
        except KeyboardInterrupt:
            click.echo("\n(stopped; this question is left out of the conversation)")
            continue
        except AssistantError as exc:
            click.echo(f"\nerror: {exc}", err=True)
            continue
        assert result is not None
        _finish_answer(result, streamed)
        _print_sources(result, brief=True)
        history.append(result)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=7860, show_default=True, type=int)
@click.option(
    "--auth", envvar="ASSISTANT_AUTH", help="user:password to require a login, as one editor."
)
@click.option(
    "--users",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML users file with roles and argon2 hashes (default: $ASSISTANT_USERS).",
)
@click.option("--backend", type=BACKEND_CHOICE)
@click.pass_context
def ui(
    ctx: click.Context,
    host: str,
    port: int,
    auth: str | None,
    users: Path | None,
    backend: str | None,
) -> None:
    """Start the Gradio chat UI (the same as `python ui.py`)."""
    from assistant.ui import launch

    launch(_settings(ctx, llm__backend=backend, users=users), host=host, port=port, auth=auth)


@main.command("hash-password")
@click.argument("name", required=False)
@click.option(
    "--role",
    type=click.Choice(["viewer", "editor"]),
    default="viewer",
    show_default=True,
    help="Role for the users-file entry printed with NAME.",
)
def hash_password_command(name: str | None, role: str) -> None:
    """Ask for a password and print its argon2 hash for the users file (`--users`).

    With NAME, print a whole [users.NAME] entry to append to the file.
    """
    from assistant.users import hash_password

    password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    hashed = hash_password(password)
    if name is None:
        click.echo(hashed)
        return
    click.echo(f'[users.{json.dumps(name)}]\nrole = "{role}"\npassword_hash = "{hashed}"')


@main.command("eval")
@click.argument("qa_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--articles",
    type=click.Path(exists=True, path_type=Path),
    help="Evaluate on these articles (a temporary index is built) instead of the index.",
)
@click.option(
    "--k",
    "k",
    default=10,
    show_default=True,
    type=click.IntRange(1, 50),
    help="Passages retrieved per question for Hits@k and MRR.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the metrics and per-question results as JSON.",
)
@click.option(
    "--backend",
    type=BACKEND_CHOICE,
    help="LLM backend for the answers (default: the configured one).",
)
@click.option("--model", help="Model name (openai/ollama) or GGUF path (llamacpp).")
@click.option("--no-answers", is_flag=True, help="Score retrieval only; generate no answers.")
@click.option(
    "--limit", type=click.IntRange(1), help="Only the first N questions (or conversations)."
)
@click.pass_context
def eval_command(
    ctx: click.Context,
    qa_file: Path,
    articles: Path | None,
    k: int,
    out: Path | None,
    backend: str | None,
    model: str | None,
    no_answers: bool,
    limit: int | None,
) -> None:
    """Score retrieval (Hits@1/4/10, MRR@10) and answers on QA_FILE (JSON Lines).

    Each line: {"question", "answers": [...], "evidence": text or article ids, "answerable"}.
    A conversation file (each line {"id", "turns": [such questions]}) is recognised by its
    `turns` and scored turn by turn: right / refused / wrong, first turns and follow-ups.
    """
    import tempfile

    from tqdm import tqdm

    from assistant.core import Assistant
    from assistant.evaluation import (
        evaluate,
        evaluate_conversations,
        format_conversation_report,
        format_report,
        is_conversation_file,
        load_conversations,
        load_qa,
    )

    conversational = is_conversation_file(qa_file)
    if conversational and no_answers:
        raise click.UsageError(f"{qa_file} holds conversations, scored by their answers")
    chats = load_conversations(qa_file)[:limit] if conversational else []
    items = [] if conversational else load_qa(qa_file)[:limit]
    settings = _settings(ctx, llm__backend=backend, llm__model=model)
    with tempfile.TemporaryDirectory(prefix="assistant-eval-") as tmp:
        if articles is not None:
            from assistant.settings import StoreSettings

            # a temporary FAISS folder, never the configured store (it may be a shared database)
            settings = settings.model_copy(
                update={"index_dir": Path(tmp) / "index", "store": StoreSettings()}
            )
            report = Assistant(settings).build_index([articles], progress=True)
            click.echo(
                f"indexed {len(report.added)} articles ({report.chunks_embedded} chunks) "
                f"from {articles}; {len(report.rejected)} rejected",
                err=True,
            )
        assistant = Assistant(settings)
        if conversational:
            result: Any = evaluate_conversations(
                assistant,
                chats,
                progress=lambda xs: tqdm(xs, desc="Evaluating", unit="conversation"),
            )
            text = format_conversation_report(result)
        else:
            result = evaluate(
                assistant,
                items,
                k=k,
                answers=not no_answers,
                progress=lambda xs: tqdm(xs, desc="Evaluating", unit="question"),
            )
            text = format_report(result)
    click.echo(text)
    if out is not None:
        out.write_text(json.dumps(result.to_json(), ensure_ascii=False, indent=2) + "\n")
        click.echo(f"results written to {out}")
