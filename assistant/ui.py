"""Gradio web UI: chat with cited, streamed answers, and an Articles tab to manage the index.

Run `python ui.py` (or `assistant ui`) and open http://127.0.0.1:7860. This module holds the
HTML built from answers and the page's layout; what each event does is in `ui_handlers`. Only
these two import gradio, and this one only inside functions, so `import ui` stays cheap.

Article text is untrusted. Every title, source, url and passage is HTML-escaped before it goes
into the page, and the chat renders its messages as (sanitised) HTML without Markdown, so an
escaped `<script>` stays visible text and Markdown or LaTeX in an article cannot restyle it.
"""

from __future__ import annotations

import argparse
import html
import logging
import os
import re
import sys
import threading
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import gradio as gr

    from assistant.core import Assistant
    from assistant.retrieval import Filters
    from assistant.settings import Settings
    from assistant.types import Answer, Citation, IndexedArticle, IngestReport, Passage
    from assistant.users import Users

# Chats that may run at once. Retrieval runs in parallel; the local LLM answers one at a time
# (`turns`), so a waiting chat costs only idle threads while it shows its sources and its place.
CHAT_CONCURRENCY = 8
# Other quick events (stats, refresh) per event; index writes are one at a time.
DEFAULT_CONCURRENCY = 4
QUEUE_SIZE = 100
CONTEXT_CHARS = 200  # article text shown either side of a cited passage
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EXTRA_ESCAPES = str.maketrans({"{": "&#123;", "}": "&#125;", "$": "&#36;", "`": "&#96;"})

CSS = """
.sources summary { cursor: pointer; font-weight: 600; }
.sources ol { margin: 0.4em 0 0 0; padding-left: 1.4em; }
.sources li { margin-bottom: 0.8em; }
.sources .meta { color: var(--body-text-color-subdued); font-size: 0.9em; }
.sources blockquote { margin: 0.3em 0 0 0; padding-left: 0.7em;
  border-left: 3px solid var(--border-color-primary); font-size: 0.92em; }
.reading ol { margin: 0; padding-left: 1.4em; }
"""


# -- HTML from untrusted text ----------------------------------------------------------------


def esc(text: object) -> str:
    """Escape text for HTML; also `{ } $ `` so no template or LaTeX syntax survives."""
    return html.escape("" if text is None else str(text), quote=True).translate(_EXTRA_ESCAPES)


def esc_lines(text: str) -> str:
    """Escaped text with line breaks kept (messages are HTML, where newlines collapse)."""
    return esc(text).replace("\r\n", "\n").replace("\n", "<br>")


def safe_url(url: str | None) -> str | None:
    """The url if it is plain http(s), else None: never a javascript: or data: link."""
    url = (url or "").strip()
    return url if url.lower().startswith(("http://", "https://")) else None


def paragraphs(text: str) -> str:
    """Answer text as escaped HTML paragraphs."""
    parts = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "".join(f"<p>{esc_lines(p.strip())}</p>" for p in parts)


def passage_in_context(
    article_text: str | None, citation: Citation, width: int = CONTEXT_CHARS
) -> tuple[str, str, str]:
    """(before, passage, after): the cited span with some article text around it.

    Falls back to the passage alone when the article is gone or its text moved.
    """
    text = article_text or ""
    start, end = citation.start, citation.end
    if text[start:end] != citation.text:
        start = text.find(citation.text)
        if start < 0:
            return "", citation.text, ""
        end = start + len(citation.text)
    a = max(0, start - width)
    if a > 0:  # begin at a word
        space = text.find(" ", a, start)
        a = space + 1 if space >= 0 else a
    b = min(len(text), end + width)
    if b < len(text):  # end at a word
        space = text.rfind(" ", end, b)
        b = space if space > end else b
    before = ("…" if a > 0 else "") + text[a:start]
    after = text[end:b] + ("…" if b < len(text) else "")
    return before, text[start:end], after


def _meta_line(date_: str | None, source: str | None) -> str:
    return " · ".join(esc(x) for x in (date_, source) if x)


def _title_html(title: str, url: str | None) -> str:
    link = safe_url(url)
    if link:
        return (
            f'<a href="{esc(link)}" target="_blank" rel="noopener noreferrer nofollow">'
            f"{esc(title)}</a>"
        )
    return esc(title)


def sources_html(citations: Sequence[Citation], articles: Mapping[str, IndexedArticle]) -> str:
    """The collapsible Sources block under an answer: one entry per cited passage.

    Kept on one line: no blank line can end the HTML early if Markdown ever sees it.
    """
    items = []
    for c in citations:
        article = articles.get(c.article_id)
        before, passage, after = passage_in_context(article.text if article else None, c)
        meta = _meta_line(c.date, c.source)
        items.append(
            f'<li value="{int(c.number)}"><b>[{int(c.number)}]</b> {_title_html(c.title, c.url)}'
            + (f' <span class="meta">({meta})</span>' if meta else "")
            + f"<blockquote>{esc_lines(before)}<mark>{esc_lines(passage)}</mark>"
            f"{esc_lines(after)}</blockquote></li>"
        )
    return (
        f'<details class="sources"><summary>Sources ({len(citations)})</summary>'
        f"<ol>{''.join(items)}</ol></details>"
    )


def reading_html(passages: Sequence[Passage]) -> str:
    """The passages being read, numbered as the answer's markers will be."""
    if not passages:
        return "No passage matches the question (or the filters)."
    items = []
    for p in passages:
        meta = _meta_line(p.date, p.source)
        items.append(
            f"<li>{esc(p.title)}"
            + (f' <span class="meta">({meta})</span>' if meta else "")
            + "</li>"
        )
    return f'<div class="reading"><ol>{"".join(items)}</ol></div>'


def reading_message(
    passages: Sequence[Passage], done: bool, seconds: float = 0.0, ahead: int | None = None
) -> dict:
    """A collapsible "thought" message (Chatbot metadata), open while the answer is written.

    `ahead`: the answer is waiting for the local model behind that many questions, which the
    note says, so a user in a busy desk sees why nothing is written yet."""
    articles = len({p.chunk.article_id for p in passages})
    title = f"Reading {len(passages)} passages from {articles} articles"
    content = reading_html(passages)
    if ahead is not None:
        title += ", waiting for the model"
        wait = f"{ahead} question{'s' if ahead != 1 else ''} ahead of yours" if ahead else "next"
        content = (
            f'<p class="waiting">Waiting for the model ({wait}); it answers one question '
            "at a time.</p>" + content
        )
    metadata: dict[str, Any] = {"title": title, "status": "done" if done else "pending"}
    if done:
        metadata["duration"] = round(seconds, 1)
    return {"role": "assistant", "content": content, "metadata": metadata}


def answer_message(answer: Answer, articles: Mapping[str, IndexedArticle], filtered: bool) -> dict:
    """The final reply: the answer text, then its sources; an abstention says so, no sources."""
    if answer.abstained:
        hint = (
            " The filters in Search settings limited the search; widening them may help."
            if filtered
            else ""
        )
        body = f'<p class="abstained"><b>No answer:</b> {esc(answer.text)}{esc(hint)}</p>'
        return {"role": "assistant", "content": body}
    return {
        "role": "assistant",
        "content": paragraphs(answer.text) + sources_html(answer.citations, articles),
    }


# -- chat history -----------------------------------------------------------------------------


def _plain(content: Any) -> str:
    """Text of a message as the user saw it: no sources block, no tags, entities decoded."""
    if isinstance(content, list):
        content = " ".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("text")
        )
    elif isinstance(content, dict):
        content = content.get("text", "")
    text = str(content or "")
    text = text.split('<details class="sources"', 1)[0]
    text = re.sub(r"<br\s*/?>|</p>", "\n", text)
    return html.unescape(re.sub(r"<[^>]+>", "", text)).strip()


def history_pairs(history: Sequence[Any] | None) -> list[tuple[str, str]]:
    """(question, answer) pairs from Gradio's messages, skipping the "Reading" notes."""
    pairs: list[tuple[str, str]] = []
    pending: str | None = None
    for message in history or ():
        if not isinstance(message, dict):
            continue
        if (message.get("metadata") or {}).get("title"):
            continue
        text = _plain(message.get("content"))
        if message.get("role") == "user":
            pending = text if pending is None else f"{pending} {text}"
        elif message.get("role") == "assistant" and pending is not None:
            pairs.append((pending, text))
            pending = None
    return pairs


# -- controls ---------------------------------------------------------------------------------


def parse_filters(
    date_from: str | None, date_to: str | None, sources: Any, as_of: str | None = None
) -> Filters | None:
    """Filters from the Search settings; raises ValueError with a message for the user."""
    from assistant.retrieval import Filters

    dates: list[str | None] = []
    for label, value in (("From", date_from), ("To", date_to), ("As-of", as_of)):
        value = (value or "").strip()
        if value:
            try:
                if not DATE_RE.match(value):
                    raise ValueError
                date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"{label} date {value!r} is not a date; use YYYY-MM-DD") from None
        dates.append(value or None)
    if dates[0] and dates[1] and dates[0] > dates[1]:
        raise ValueError(f"the From date {dates[0]} is after the To date {dates[1]}")
    if isinstance(sources, str):
        sources = [sources]
    filters = Filters(dates[0], dates[1], tuple(s for s in sources or () if s), dates[2])
    return filters or None


def backend_label(settings: Settings) -> str:
    """What answers the questions, as shown (read-only) in the Search settings."""
    from assistant.backends import BACKENDS

    return BACKENDS[settings.llm.backend].label(settings.llm)


def stats_html(assistant: Assistant) -> str:
    """Index statistics for the Articles tab (or why there are none)."""
    from assistant.errors import AssistantError, IndexNotFoundError

    try:
        s = assistant.stats()
    except IndexNotFoundError:
        return (
            f"<p>No index yet at <code>{esc(assistant.store.location)}</code>: "
            "upload articles below to create it.</p>"
        )
    except AssistantError as exc:
        return f'<p class="error">The index cannot be read: {esc(exc)}</p>'
    span = " to ".join(s["date_range"]) if s["date_range"] else "no dates"
    rows = [
        ("Articles", s["articles"]),
        ("Passages (chunks)", s["chunks"]),
        ("Sources", f"{len(s['sources'])}: {', '.join(s['sources'])}" if s["sources"] else "0"),
        ("Dates", span),
        ("Embedding model", f"{s['embedding_model']} ({s['dim']} dimensions)"),
        ("Index version", s["version"]),
    ]
    cells = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    return f'<table class="stats">{cells}</table>'


def report_html(report: IngestReport) -> str:
    """What an upload or removal did, file by file, with the reason for each file skipped."""
    from assistant.articles import safe_name

    def name(x: str) -> str:  # control characters (bidi overrides) shown, then HTML-escaped
        return esc(safe_name(x))

    sections: list[tuple[str, list[str]]] = [
        ("Added", [name(x) for x in report.added]),
        ("Updated", [name(x) for x in report.updated]),
        ("Removed", [name(x) for x in report.removed]),
        ("Skipped, unchanged", [name(x) for x in report.unchanged]),
        ("Skipped, duplicates", [f"{name(r.name)}: {name(r.reason)}" for r in report.duplicates]),
        ("Rejected", [f"{name(r.name)}: {name(r.reason)}" for r in report.rejected]),
        ("Warnings", [f"{name(r.name)}: {name(r.reason)}" for r in report.warnings]),
    ]
    parts = [
        f"<p><b>{title}</b></p><ul>{''.join(f'<li>{x}</li>' for x in items)}</ul>"
        for title, items in sections
        if items
    ]
    summary = (
        f"{len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.removed)} removed, {len(report.unchanged)} unchanged, "
        f"{len(report.duplicates)} duplicates, {len(report.rejected)} rejected; "
        f"{report.chunks_embedded} passages embedded in {report.seconds:.1f}s"
    )
    return f'<div class="report">{"".join(parts)}<p>{esc(summary)}</p></div>'


# -- the app ----------------------------------------------------------------------------------


def build_app(assistant: Assistant, users: Users | None = None) -> gr.Blocks:
    """The page over one shared `Assistant`, its events wired to `ChatHandlers`, with the
    queue and concurrency limits set. With `users`, viewers are not shown the Articles tab
    (the handlers refuse their index changes in any case)."""
    import gradio as gr

    from assistant.ui_handlers import ChatHandlers

    handlers = ChatHandlers(assistant, users)
    settings = assistant.settings
    sources = handlers.index_sources()
    placeholder = handlers.placeholder()

    with gr.Blocks(title="News assistant", analytics_enabled=False) as demo:
        gr.Markdown("## News assistant\nAnswers from your news articles, with cited passages.")
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                # Built unrendered so the settings sit under the chat, not above it.
                with gr.Accordion("Search settings", open=False, render=False) as controls:
                    with gr.Row():
                        k_slider = gr.Slider(
                            1,
                            20,
                            value=settings.retrieval.k,
                            step=1,
                            label="Passages to read (k)",
                        )
                        source_filter = gr.Dropdown(
                            choices=sources,
                            value=[],
                            multiselect=True,
                            label="Only these sources",
                            info="Empty: all sources",
                        )
                    with gr.Row():
                        # Every input after the message has a value, so an API caller may
                        # send the question alone: Client(url).predict(q, api_name="/chat").
                        date_from = gr.Textbox("", label="From date", placeholder="YYYY-MM-DD")
                        date_to = gr.Textbox("", label="To date", placeholder="YYYY-MM-DD")
                        as_of = gr.Textbox(
                            "",
                            label="As of",
                            placeholder="YYYY-MM-DD",
                            info="'This week' counts from here; later articles are left out. "
                            "Empty: today, or the newest article's date.",
                        )
                        gr.Textbox(
                            value=backend_label(settings),
                            label="LLM backend / model",
                            interactive=False,
                        )
                chatbot = gr.Chatbot(
                    label="Conversation",
                    height="60vh",
                    render_markdown=False,  # messages are escaped HTML; see module docstring
                    sanitize_html=True,
                    latex_delimiters=[],
                    allow_tags=False,
                    placeholder=esc(placeholder),
                    buttons=["copy", "copy_all"],
                )
                gr.ChatInterface(
                    handlers.chat,
                    chatbot=chatbot,
                    textbox=gr.Textbox(
                        placeholder="Ask a question about the articles…",
                        show_label=False,
                        elem_id="question",
                        submit_btn=True,
                        stop_btn=True,
                    ),
                    additional_inputs=[k_slider, date_from, date_to, source_filter, as_of],
                    concurrency_limit=CHAT_CONCURRENCY,
                    # the queue position and elapsed time, without hiding the conversation
                    show_progress="minimal",
                    analytics_enabled=False,
                    fill_height=False,
                )
                controls.render()
            with gr.Tab("Articles", id="articles", visible=users is None) as articles:
                stats = gr.HTML(stats_html(assistant), elem_classes=["stats"])
                with gr.Row():
                    with gr.Column(scale=3):
                        files = gr.File(
                            file_count="multiple",
                            label="Article files (txt, md, html, json, jsonl)",
                        )
                    with gr.Column(scale=1, min_width=200):
                        add_btn = gr.Button("Add to index", variant="primary")
                        refresh_btn = gr.Button("Refresh")
                with gr.Row():
                    urls = gr.Textbox(
                        label="Web pages or RSS/Atom feeds, one URL a line",
                        lines=2,
                        scale=3,
                    )
                    urls_btn = gr.Button("Fetch and add", scale=1)
                report = gr.HTML()
                with gr.Row():
                    remove_choice = gr.Dropdown(
                        choices=handlers.article_choices(), label="Article to remove", scale=3
                    )
                    remove_btn = gr.Button("Remove", variant="stop", scale=1)
                table = gr.Dataframe(
                    value=handlers.article_rows(),
                    interactive=False,
                    wrap=True,
                    label="Indexed articles",
                    max_height=600,
                    column_widths=["11%", "18%", "9%", "46%", "16%"],
                )

        listing = [stats, table, remove_choice, source_filter]
        add_btn.click(
            handlers.add_files,
            [files],
            [report, files, *listing],
            api_name="add_files",
            concurrency_limit=1,
            concurrency_id="index_write",
        )
        urls_btn.click(
            handlers.add_urls,
            [urls],
            [report, urls, *listing],
            api_name="add_urls",
            concurrency_limit=1,
            concurrency_id="index_write",
        )
        remove_btn.click(
            handlers.remove_article,
            [remove_choice],
            [report, *listing],
            api_name="remove_article",
            concurrency_limit=1,
            concurrency_id="index_write",
        )
        refresh_btn.click(handlers.refresh, None, listing, api_name="refresh")
        demo.load(handlers.refresh, None, listing, api_visibility="undocumented")
        if users is not None:
            demo.load(handlers.articles_tab, None, articles, api_visibility="private")

    demo.queue(default_concurrency_limit=DEFAULT_CONCURRENCY, max_size=QUEUE_SIZE)
    return demo


def parse_auth(auth: str | tuple[str, str] | None) -> tuple[str, str] | None:
    """ "user:password" (the password may contain ':') as Gradio's (user, password)."""
    from assistant.errors import AssistantError

    if auth is None or isinstance(auth, tuple):
        return auth
    user, sep, password = auth.partition(":")
    if not (sep and user and password):
        raise AssistantError("auth must be user:password (e.g. --auth alice:s3cret)")
    return user, password


def login_users(auth: str | tuple[str, str] | None, users_file: Path | None) -> Users | None:
    """The accounts to accept: the users file (roles), or `--auth` as one editor, or none."""
    from assistant.errors import AssistantError
    from assistant.users import Users

    credentials = parse_auth(auth)
    if credentials and users_file:
        raise AssistantError("use either --auth or --users (ASSISTANT_USERS), not both")
    if users_file:
        return Users.from_file(users_file)
    if credentials:
        return Users.single_editor(*credentials)
    return None


def launch(
    settings: Settings | dict[str, Any] | None,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: str | tuple[str, str] | None = None,
) -> None:
    """Start the app and block until it is stopped (Ctrl-C)."""
    from assistant.core import Assistant

    assistant = Assistant(settings)
    users = login_users(auth, assistant.settings.users)
    if host not in ("127.0.0.1", "localhost", "::1") and users is None:
        print(
            f"warning: serving on {host} without a login; anyone who can reach it can read "
            "and change the index (use --users users.toml or --auth user:password)",
            file=sys.stderr,
        )
    # The models load, and the local model reads its prompts' instructions, while the page
    # opens, not during the first question (see Assistant.warm_up).
    threading.Thread(target=assistant.warm_up, name="warm-up").start()
    demo = build_app(assistant, users)
    demo.launch(
        server_name=host,
        server_port=port,
        auth=users.check if users else None,
        max_file_size=assistant.settings.max_article_bytes,
        css=CSS,
        footer_links=["api"],
    )


def main(argv: Sequence[str] | None = None) -> None:
    """`python ui.py`: parse the options and launch."""
    from assistant.backends import BACKENDS

    parser = argparse.ArgumentParser(description="Chat with your news articles in a browser.")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on")
    parser.add_argument("--port", type=int, default=7860, help="port to serve on")
    parser.add_argument("--index", type=Path, help="index folder (default: the project's index/)")
    parser.add_argument(
        "--backend",
        choices=list(BACKENDS),
        help="LLM backend (default: the bundled local model)",
    )
    parser.add_argument("--model", help="model name (openai/ollama) or GGUF path (llamacpp)")
    parser.add_argument("--base-url", help="server URL for openai/ollama")
    parser.add_argument(
        "--auth",
        default=os.environ.get("ASSISTANT_AUTH"),
        help="user:password to require a login, as one editor (default: $ASSISTANT_AUTH)",
    )
    parser.add_argument(
        "--users",
        type=Path,
        help="TOML users file with roles (viewer, editor) and argon2 password hashes "
        "(default: $ASSISTANT_USERS)",
    )
    args = parser.parse_args(argv)
    # Refused index changes are logged as warnings (assistant.ui), with the user's name.
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    from assistant.errors import AssistantError
    from assistant.settings import resolve_settings

    overrides: dict[str, Any] = {}
    if args.index:
        overrides["index_dir"] = args.index
    if args.users:
        overrides["users"] = args.users
    llm = {
        key: value
        for key, value in (
            ("backend", args.backend),
            ("model", args.model),
            ("base_url", args.base_url),
        )
        if value
    }
    if llm:
        overrides["llm"] = llm
    try:
        launch(resolve_settings(overrides), host=args.host, port=args.port, auth=args.auth)
    except AssistantError as exc:
        parser.exit(1, f"error: {exc}\n")


if __name__ == "__main__":
    main()
