"""The Gradio UI, run for real on a loopback port and driven with gradio_client.

Most tests answer with the "passages" backend (the no-LLM product mode) so they take seconds;
one `llm` test goes through the bundled local model.
"""

from __future__ import annotations

import html
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from servers import free_port, serving

from assistant import Assistant
from assistant.settings import PROJECT_DIR
from assistant.types import Citation, IndexedArticle


def load_ui() -> Any:
    """The UI module (`assistant/ui.py`; the top-level `ui.py` only starts it)."""
    from assistant import ui

    return ui


ui = load_ui()
# Gradio's own use of pandas, not ours.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")

DRONES_Q = (
    "According to Ukraine's air force, how many of the 35 drones launched at Kyiv and the "
    "surrounding region on December 19, 2022 were destroyed?"
)
DRONES_TITLE = "Drones Target Kyiv Energy Sites in Pre-Dawn Wave"
KISSINGER_TITLE = "Kissinger Urges Negotiated Ceasefire Along Pre-Invasion Line"
BRIDGE_TEXT = """Vilnius Bridge Reopens After Repairs

The Green Bridge in Vilnius reopened to traffic on 3 December after repairs costing 4.2 million
euros, the city council said. Engineers replaced the bearings and resurfaced the deck during a
closure that lasted eleven months.
"""
BRIDGE_TITLE = "Vilnius Bridge Reopens After Repairs"
BRIDGE_Q = "How much did the repairs of the Vilnius bridge cost?"


def read_for(assistant: Assistant, question: str) -> list[Any]:
    """The passages an answer to `question` reads: within the context budget."""
    return assistant.retrieve(question, budget=assistant.settings.retrieval.context_chars)


@contextmanager
def running(assistant: Assistant) -> Iterator[str]:
    """The real app over `assistant`, served in this process; yields its URL."""
    with serving(ui.build_app(assistant)) as url:
        yield url


def client(url: str, **kwargs: Any) -> Any:
    from gradio_client import Client

    return Client(url, verbose=False, **kwargs)


def ask(
    c: Any,
    question: str,
    k: int = 5,
    date_from: str = "",
    date_to: str = "",
    sources: list[str] | None = None,
    as_of: str = "",
) -> list[list[dict[str, Any]]]:
    """Every streamed output of one chat turn (each is the list of assistant messages)."""
    job = c.submit(question, k, date_from, date_to, sources or [], as_of, api_name="/chat")
    outputs = list(job)
    final = job.result()
    if not outputs or outputs[-1] != final:
        outputs.append(final)
    return outputs


def text_of(content: str) -> str:
    """What an HTML message shows: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", content)).split())


def answer_and_sources(final: list[dict[str, Any]]) -> tuple[str, str]:
    """(answer text, sources block text) of a final chat output."""
    answer, _, sources = final[-1]["content"].partition('<details class="sources"')
    return text_of(answer), text_of(sources)


# -- pure helpers --------------------------------------------------------------------------


XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'


def _citation(**changes: Any) -> Citation:
    values: dict[str, Any] = {
        "number": 1,
        "article_id": "a1",
        "title": f"Title {XSS}",
        "date": "2022-12-19",
        "source": f"Src {XSS}",
        "url": "https://example.org/a?x=1&y=2",
        "text": f"passage {XSS} with $$x$$ and {{{{value}}}}",
        "start": 10,
        "end": 10 + len(f"passage {XSS} with $$x$$ and {{{{value}}}}"),
        "score": 0.9,
    }
    values.update(changes)
    return Citation(**values)


def test_sources_html_escapes_everything_and_marks_the_passage() -> None:
    c = _citation()
    article = "x" * 10 + c.text + " and the text after it."
    indexed = IndexedArticle("a1", c.title, "a1.txt", "h", 1, text=article)
    out = ui.sources_html([c], {"a1": indexed})
    assert "<script" not in out and "<img" not in out
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in out
    assert "$$" not in out and "{{" not in out  # no LaTeX or template syntax survives
    assert '<a href="https://example.org/a?x=1&amp;y=2"' in out
    assert f"<mark>{ui.esc(c.text)}</mark> and the text after it." in out
    assert out.startswith('<details class="sources">') and "\n" not in out


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,x", " JaVaScRiPt:x", None])
def test_only_http_urls_become_links(url: str | None) -> None:
    out = ui.sources_html([_citation(url=url)], {})
    assert "<a " not in out and "href" not in out


def test_passage_in_context_trims_at_words_and_survives_a_changed_article() -> None:
    text = "word " * 100 + "THE PASSAGE" + " more" * 100
    start = text.index("THE PASSAGE")
    c = _citation(text="THE PASSAGE", start=start, end=start + 11)
    before, passage, after = ui.passage_in_context(text, c, width=30)
    assert passage == "THE PASSAGE"
    assert before.startswith("…word") and len(before) <= 32
    assert after.endswith("…") and not after.rstrip("…").endswith("mor")
    shifted = "new intro. " + text  # the article changed: find the passage again
    assert ui.passage_in_context(shifted, c)[1] == "THE PASSAGE"
    assert ui.passage_in_context(None, c) == ("", "THE PASSAGE", "")


def test_history_pairs_skip_reading_notes_and_sources() -> None:
    history = [
        {"role": "user", "content": [{"type": "text", "text": "Who met in Istanbul?"}]},
        {
            "role": "assistant",
            "content": "<ol><li>x</li></ol>",
            "metadata": {"title": "Reading 5 passages", "status": "done"},
        },
        {
            "role": "assistant",
            "content": '<p>Grossi &amp; Likhachev [1].</p><details class="sources">…</details>',
        },
        {"role": "user", "content": "When?"},
    ]
    assert ui.history_pairs(history) == [("Who met in Istanbul?", "Grossi & Likhachev [1].")]


def test_parse_filters_and_auth() -> None:
    from assistant import AssistantError, Filters

    assert ui.parse_filters("", " ", []) is None
    assert ui.parse_filters("2022-12-01", "2022-12-31", ["Kyiv Wire"]) == Filters(
        "2022-12-01", "2022-12-31", ("Kyiv Wire",)
    )
    for bad in ("12/01/2022", "2022-13-01", "2022-1-1"):
        with pytest.raises(ValueError, match="YYYY-MM-DD"):
            ui.parse_filters(bad, "", [])
    with pytest.raises(ValueError, match="after"):
        ui.parse_filters("2022-12-31", "2022-12-01", [])
    assert ui.parse_filters("", "", [], "2022-12-20") == Filters(as_of="2022-12-20")
    with pytest.raises(ValueError, match="As-of date 'soon' is not a date"):
        ui.parse_filters("", "", [], "soon")
    assert ui.parse_auth("alice:pa:ss") == ("alice", "pa:ss")
    assert ui.parse_auth(None) is None
    for bad in ("alice", ":pw", "alice:"):
        with pytest.raises(AssistantError):
            ui.parse_auth(bad)


def test_importing_ui_does_not_import_gradio() -> None:
    code = (
        "import importlib.util, sys; "
        f"s = importlib.util.spec_from_file_location('ui', {str(PROJECT_DIR / 'ui.py')!r}); "
        "m = importlib.util.module_from_spec(s); s.loader.exec_module(m); "
        "import assistant.ui; "
        "assert 'gradio' not in sys.modules, 'gradio imported'; "
        "import assistant.cli, assistant.core; "
        "assert 'gradio' not in sys.modules, 'the package imports gradio'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# -- the running app -----------------------------------------------------------------------


def test_chat_streams_sources_first_then_a_cited_answer(passages_assistant: Assistant) -> None:
    with running(passages_assistant) as url:
        c = client(url)
        outputs = ask(c, DRONES_Q)

        assert len(outputs) >= 3, "the answer did not stream"
        first = outputs[0]
        reading = f"Reading {len(read_for(passages_assistant, DRONES_Q))} passages"
        assert len(first) == 1 and first[0]["metadata"]["title"].startswith(reading)
        assert first[0]["metadata"]["status"] == "pending"
        assert DRONES_TITLE in text_of(
            first[0]["content"]
        )  # the sources show before any answer text
        final = outputs[-1]
        assert final[0]["metadata"]["status"] == "done"
        answer, sources = answer_and_sources(final)
        assert "30" in answer and "[1]" in answer
        assert "Sources (" in sources and DRONES_TITLE in sources
        assert "<mark>" in final[-1]["content"]
        assert "30 of them were destroyed" in sources  # the cited passage itself


def readme_api_example() -> str:
    """The README's gradio_client example, verbatim."""
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    section = readme.split("### HTTP API", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_readme_api_example_asks_with_the_question_alone(
    passages_assistant: Assistant, capsys: pytest.CaptureFixture[str]
) -> None:
    """`Client(url).predict(question, api_name="/chat")`: every other input has a default."""
    code = readme_api_example()
    assert 'api_name="/chat"' in code and "http://127.0.0.1:7860/" in code
    with running(passages_assistant) as url:
        api = client(url).view_api(print_info=False, return_format="dict")
        params = api["named_endpoints"]["/chat"]["parameters"]
        names = [p["parameter_name"] for p in params]
        assert names == ["message", "k", "date_from", "date_to", "sources", "as_of"]
        assert [p["parameter_has_default"] for p in params] == [False] + [True] * 5
        exec(code.replace("http://127.0.0.1:7860/", url), {})  # the example, run as printed
    printed = text_of(capsys.readouterr().out)
    assert "Sources (" in printed and "[1]" in printed
    assert "Drones Target Kyiv" in printed


def test_follow_up_question_uses_the_conversation(passages_assistant: Assistant) -> None:
    with running(passages_assistant) as url:
        c = client(url)
        ask(c, "Which magazine published Henry Kissinger's ceasefire essay?")
        follow_up = "Who dismissed it on social media?"
        _, sources = answer_and_sources(ask(c, follow_up)[-1])
        assert KISSINGER_TITLE in sources
        fresh = ask(client(url), follow_up)[-1]  # the same words without the conversation
        assert KISSINGER_TITLE not in answer_and_sources(fresh)[1]


def test_filters_and_plain_abstention(passages_assistant: Assistant) -> None:
    with running(passages_assistant) as url:
        c = client(url)
        reading = ask(c, "What happened to the power grid?", sources=["Kyiv Wire"])[0][0]
        assert "Kyiv Wire" in text_of(reading["content"])
        assert "Black Sea Chronicle" not in text_of(reading["content"])

        final = ask(c, DRONES_Q, date_from="2030-01-01")[-1]
        assert len(final) == 1 and "<details" not in final[0]["content"]
        assert text_of(final[0]["content"]).startswith(
            "No answer: The articles I have do not contain"
        )

        from gradio_client.exceptions import AppError

        with pytest.raises(AppError, match="YYYY-MM-DD"):
            ask(c, DRONES_Q, date_from="19 Dec 2022")

        # as of the day before the Kissinger essay's article, it is not there to cite
        final = ask(c, "What did Kissinger propose?", as_of="2022-12-18")[-1]
        assert "Kissinger" not in text_of(final[-1]["content"])
        with pytest.raises(AppError, match="As-of date"):
            ask(c, DRONES_Q, as_of="tomorrow")


def test_upload_ask_and_remove(passages_assistant: Assistant, tmp_path: Path) -> None:
    from gradio_client import handle_file

    bridge = tmp_path / "vilnius-bridge.txt"
    bridge.write_text(BRIDGE_TEXT, encoding="utf-8")
    bad = tmp_path / "notes.pdf"
    bad.write_bytes(b"%PDF-1.4 not an article")
    empty = tmp_path / "empty.md"
    empty.write_text("   \n", encoding="utf-8")

    before = passages_assistant.stats()["articles"]
    with running(passages_assistant) as url:
        c = client(url)
        report, _, stats, table, *_ = c.predict(
            [handle_file(str(bridge)), handle_file(str(bad)), handle_file(str(empty))],
            api_name="/add_files",
        )
        report = html.unescape(report)
        assert "Added" in report and "vilnius-bridge.txt" in report
        assert "notes.pdf: unsupported file type" in report
        assert "empty.md: file is empty" in report
        assert f">Articles</th><td>{before + 1}<" in stats
        assert BRIDGE_TITLE in [row[3] for row in table["data"]]

        again = c.predict([handle_file(str(bridge))], api_name="/add_files")[0]
        assert "Skipped, unchanged" in again and "1 unchanged" in again

        answer, sources = answer_and_sources(ask(c, BRIDGE_Q)[-1])
        assert "4.2 million" in answer
        assert BRIDGE_TITLE in sources

        article_id = next(r[4] for r in table["data"] if r[3] == BRIDGE_TITLE)
        report, stats, table, *_ = c.predict(article_id, api_name="/remove_article")
        assert "Removed" in report and article_id in report
        assert BRIDGE_TITLE not in [row[3] for row in table["data"]]
        _, sources = answer_and_sources(ask(c, BRIDGE_Q)[-1])
        assert BRIDGE_TITLE not in sources


def test_starts_without_an_index_and_an_upload_creates_it(tmp_path: Path) -> None:
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    bridge = tmp_path / "vilnius-bridge.txt"
    bridge.write_text(BRIDGE_TEXT, encoding="utf-8")
    assistant = Assistant(index_dir=tmp_path / "new-index", llm={"backend": "passages"})
    with running(assistant) as url:
        c = client(url)
        stats = c.predict(api_name="/refresh")[0]
        assert "No index yet" in stats
        with pytest.raises(AppError, match="index"):  # a message, not a traceback
            ask(c, BRIDGE_Q)
        report, _, stats, *_ = c.predict([handle_file(str(bridge))], api_name="/add_files")
        assert "Added" in report and ">Articles</th><td>1<" in stats
        answer, sources = answer_and_sources(ask(c, BRIDGE_Q)[-1])
        assert "4.2 million" in answer and BRIDGE_TITLE in sources


def test_limits_give_clear_messages_through_the_api(index_copy: Path, tmp_path: Path) -> None:
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    limits = {"question_chars": 300, "upload_files": 2}
    assistant = Assistant(index_dir=index_copy, llm={"backend": "passages"}, limits=limits)
    files = []
    for n in range(3):
        path = tmp_path / f"note-{n}.txt"
        path.write_text(f"Note {n}\n\nThe ferry number {n} sailed on time.", encoding="utf-8")
        files.append(handle_file(str(path)))
    with running(assistant) as url:
        c = client(url)
        with pytest.raises(AppError, match=r"the question is 1,000 characters; the limit is 300"):
            ask(c, "x" * 1000)
        with pytest.raises(AppError, match=r"3 files chosen; at most 2 per upload"):
            c.predict(files, api_name="/add_files")
        assert assistant.stats()["articles"] == 12  # nothing of the refused upload was added
        answer, _ = answer_and_sources(ask(c, DRONES_Q)[-1])
        assert "30" in answer


def test_one_user_is_capped_at_questions_per_minute(index_copy: Path) -> None:
    from gradio_client.exceptions import AppError

    limits = {"questions_per_minute": 2}
    assistant = Assistant(index_dir=index_copy, llm={"backend": "passages"}, limits=limits)
    with running(assistant) as url:
        first, second = client(url), client(url)  # two browser sessions: two users
        for _ in range(2):
            assert "30" in answer_and_sources(ask(first, DRONES_Q)[-1])[0]
        with pytest.raises(AppError, match=r"at most 2 questions a minute per user"):
            ask(first, DRONES_Q)
        assert "30" in answer_and_sources(ask(second, DRONES_Q)[-1])[0]


def test_six_users_at_once(passages_assistant: Assistant) -> None:
    questions = [
        DRONES_Q,
        "What was the pre-war population of Bakhmut?",
        "Which magazine published Henry Kissinger's December 2022 essay?",
        "In which city did IAEA chief Rafael Grossi meet Rosatom head Alexei Likhachev?",
        "How many people were killed when Russian shelling hit central Kherson?",
        "How many individuals and entities were added in the EU's ninth sanctions package?",
    ]
    with running(passages_assistant) as url:
        ask(client(url), "warm up the embedding model")
        clients = [client(url) for _ in questions]
        latencies: list[float] = [0.0] * len(questions)
        results: list[Any] = [None] * len(questions)
        barrier = threading.Barrier(len(questions))

        def run(i: int) -> None:
            barrier.wait()
            started = time.perf_counter()
            try:
                results[i] = ask(clients[i], questions[i])[-1]
            except Exception as exc:  # recorded and asserted below
                results[i] = exc
            latencies[i] = time.perf_counter() - started

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(questions))]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        wall = time.perf_counter() - started

    print(
        f"\n{len(questions)} concurrent chats: wall {wall:.2f}s; latencies "
        + ", ".join(f"{x:.2f}s" for x in latencies)
        + f"; mean {sum(latencies) / len(latencies):.2f}s, max {max(latencies):.2f}s"
    )
    for question, result in zip(questions, results, strict=True):
        assert not isinstance(result, Exception), f"{question}: {result!r}"
        assert "Sources (" in result[-1]["content"], question
    assert wall < sum(latencies), "the chats ran one after another"


def test_python_ui_py_starts_with_a_login(index_copy: Path) -> None:
    """`python ui.py` serves on the given port and, with ASSISTANT_AUTH, asks for a login."""
    port = free_port()
    env = {**os.environ, "ASSISTANT_AUTH": "reader:s3cret:pw"}
    proc = subprocess.Popen(
        [
            sys.executable,
            str(PROJECT_DIR / "ui.py"),
            "--port",
            str(port),
            "--index",
            str(index_copy),
            "--backend",
            "passages",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 180
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"ui.py did not start:\n{proc.communicate()[0]}") from None
                time.sleep(0.5)
        with pytest.raises(Exception):  # noqa: B017 (the client's error type varies)
            client(url)
        c = client(url, auth=("reader", "s3cret:pw"))
        assert "/chat" in c.view_api(print_info=False, return_format="dict")["named_endpoints"]
        answer, sources = answer_and_sources(ask(c, DRONES_Q)[-1])
        assert "30" in answer and DRONES_TITLE in sources
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.llm
def test_local_llm_answer_through_the_ui(index_copy: Path) -> None:
    assistant = Assistant(index_dir=index_copy)  # the default backend: the bundled model
    assert assistant.settings.llm.backend == "llamacpp"
    with running(assistant) as url:
        outputs = ask(client(url), DRONES_Q, k=3)
    tokens = [o for o in outputs if len(o) == 2 and o[0]["metadata"]["status"] == "pending"]
    assert len(tokens) > 3, "the model's answer did not stream token by token"
    answer, sources = answer_and_sources(outputs[-1])
    assert "30" in answer and "[1]" in answer
    assert DRONES_TITLE in sources


class SlowLlama:
    """Stands in for llama.cpp under the real `LocalChatModel`: one word every `delay` s, and
    a record of each stream's start, words and close (queueing is tested here, not answers)."""

    def __init__(self, words: list[int], delay: float = 0.1) -> None:
        self.words, self.delay = words, delay
        self.streams: list[dict[str, Any]] = []

    def create_chat_completion(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        record: dict[str, Any] = {"words": 0, "closed": None, "started": time.monotonic()}
        self.streams.append(record)
        count = self.words[min(len(self.streams), len(self.words)) - 1]

        def parts() -> Iterator[dict[str, Any]]:
            try:
                for i in range(count):
                    time.sleep(self.delay)
                    record["words"] += 1
                    yield {"choices": [{"delta": {"content": f"w{i} "}}]}
            finally:
                record["closed"] = time.monotonic()

        return parts()


def test_a_closed_tab_frees_its_slot_and_stops_the_model(
    index_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One chat at a time: A's tab closes mid-answer, B's question starts at once."""
    import httpx

    from assistant import llms
    from assistant.turns import model_turns

    llama = SlowLlama([600, 5])  # A's answer would take a minute, B's half a second
    monkeypatch.setattr(llms, "_llama", lambda *args: llama)
    monkeypatch.setattr(ui, "CHAT_CONCURRENCY", 1)
    model = llms.LocalChatModel(model_path="slow.gguf")
    limits = {"questions_at_once": 1}
    assistant = Assistant(index_dir=index_copy, chat_model=model, limits=limits)
    with running(assistant) as url:
        c = client(url)
        chat = next(e for e in c.endpoints.values() if e.api_name == "/chat")
        session = "closed-tab"
        data = chat.insert_empty_state(DRONES_Q, 5, "", "", [], "")
        with httpx.Client(timeout=30) as http:
            # A browser tab: join the queue, read the event stream, then go away mid-answer.
            join = {"data": data, "fn_index": chat.fn_index, "session_hash": session}
            http.post(c.sse_data_url, json=join).raise_for_status()
            with http.stream("GET", c.sse_url, params={"session_hash": session}) as events:
                for line in events.iter_lines():
                    if line.startswith("data:") and "w2 " in line:
                        break  # A's answer is being written
        closed = time.monotonic()
        started = time.perf_counter()
        b = ask(client(url), DRONES_Q)
        b_seconds = time.perf_counter() - started
        a_stream = llama.streams[0]
        print(
            f"\nA's stream closed {a_stream['closed'] - closed:.2f}s after the tab, after "
            f"{a_stream['words']} of 600 words; B's whole answer took {b_seconds:.2f}s"
        )
        assert a_stream["closed"] is not None and a_stream["closed"] - closed < 5
        assert a_stream["words"] < 100
        assert b_seconds < 20, "B waited for A's abandoned answer"
        assert any(len(o) == 2 and "w4" in o[-1]["content"] for o in b), b[-1]
        assert model_turns.ahead(threading.Event()) is None and not model_turns._busy
        # A's question slot (questions_at_once=1) was freed too: the same session asks again.
        again = {**join, "data": chat.insert_empty_state(DRONES_Q, 5, "", "", [], "")}
        with httpx.Client(timeout=60) as http:
            http.post(c.sse_data_url, json=again).raise_for_status()
            with http.stream("GET", c.sse_url, params={"session_hash": session}) as events:
                messages = (json.loads(x[5:]) for x in events.iter_lines() if x[:5] == "data:")
                done = next(m for m in messages if m["msg"] == "process_completed")
        assert done["success"], done


def test_a_question_waiting_for_the_model_says_so(
    index_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant import llms

    llama = SlowLlama([30, 5])  # A holds the model for about three seconds
    monkeypatch.setattr(llms, "_llama", lambda *args: llama)
    model = llms.LocalChatModel(model_path="slow.gguf")
    assistant = Assistant(index_dir=index_copy, chat_model=model)
    with running(assistant) as url:
        a = client(url).submit(DRONES_Q, 5, "", "", [], "", api_name="/chat")
        while not any(len(o) == 2 for o in a.outputs()):  # A's answer is being written
            time.sleep(0.05)
        b = ask(client(url), DRONES_Q)
        a.result()
    notes = [o[0] for o in b if "waiting" in o[0].get("metadata", {}).get("title", "")]
    assert notes, "B showed no waiting note"
    assert "Waiting for the model (1 question ahead of yours)" in text_of(notes[0]["content"])
    reading = f"Reading {len(read_for(assistant, DRONES_Q))} passages"
    assert notes[0]["metadata"]["title"].startswith(reading)
    assert any(len(o) == 2 and "w4" in o[-1]["content"] for o in b), "B was not answered"
