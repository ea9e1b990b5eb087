"""LLM backends other than the default: an OpenAI-compatible server, Ollama, no LLM."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request

import pytest
from langchain_ollama import ChatOllama
from replies import cites
from servers import free_port

from assistant import Assistant, LLMError
from assistant.llms import make_llm
from assistant.models import local_model_path
from assistant.settings import LLMSettings


@pytest.fixture(scope="module")
def openai_server():
    """llama.cpp's own OpenAI-compatible server on loopback, serving the bundled model."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(local_model_path()),
            "--model_alias",
            "qwen-local",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "4096",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/models", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("llama_cpp.server did not start")
            time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.mark.llm
def test_openai_compatible_server_answers_with_citations(sample_index, openai_server):
    assistant = Assistant(
        index_dir=sample_index,
        llm={"backend": "openai", "model": "qwen-local", "base_url": openai_server},
    )
    events = list(assistant.stream("In which city did IAEA chief Grossi meet Rosatom's head?"))
    assert events[0].kind == "sources"
    assert sum(e.kind == "token" for e in events) > 1  # streamed over HTTP
    answer = events[-1].answer
    assert "Istanbul" in answer.text
    assert cites(answer, "Zaporizhzhia")


def test_ollama_backend_is_built_from_url_and_model():
    llm = make_llm(LLMSettings(backend="ollama", model="llama3.2", base_url="http://127.0.0.1:9"))
    assert isinstance(llm, ChatOllama)
    assert llm.model == "llama3.2" and llm.base_url == "http://127.0.0.1:9"


@pytest.mark.parametrize("backend", ["openai", "ollama"])
def test_server_backends_need_a_model_name(backend):
    with pytest.raises(LLMError, match=r"needs llm\.model"):
        make_llm(LLMSettings(backend=backend))


def test_unreachable_server_is_reported(sample_index):
    assistant = Assistant(
        index_dir=sample_index,
        llm={"backend": "ollama", "model": "none", "base_url": f"http://127.0.0.1:{free_port()}"},
    )
    with pytest.raises(LLMError, match=r"cannot reach the ollama server at http://127\.0\.0\.1"):
        assistant.ask("What happened in Kyiv?")


def test_passages_backend_needs_no_model():
    assert make_llm(LLMSettings(backend="passages")) is None


def test_one_table_of_backends_feeds_settings_cli_and_ui():
    from click.testing import CliRunner
    from pydantic import ValidationError

    from assistant import ui
    from assistant.backends import BACKENDS
    from assistant.cli import main
    from assistant.settings import Settings

    with pytest.raises(ValidationError, match=r"unknown LLM backend 'gpt'; use one of llamacpp, "):
        LLMSettings(backend="gpt")
    ask_help = CliRunner().invoke(main, ["ask", "--help"]).output
    assert "[" + "|".join(BACKENDS) + "]" in ask_help.replace("\n", "").replace(" ", "")
    with pytest.raises(SystemExit):
        ui.main(["--backend", "gpt"])  # argparse refuses a name the table lacks
    for name in BACKENDS:
        label = ui.backend_label(Settings(llm={"backend": name, "model": "m"}))
        assert label.startswith(name)
