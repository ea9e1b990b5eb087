"""How fast the bundled model reads a prompt and writes a reply on this machine: ours vs stock.

The first answer token waits for the model to read its whole prompt (the sources above all),
so prompt tokens per second decide it. The same GGUF is loaded twice, as our chat model loads
it (`assistant.llms`) and as the stock chain's `ChatLlamaCpp` does (`_common.stock_llm`); each
reads the same 1,000-token prompt of sample-article text from an empty context, then decodes
40 tokens greedily. Best of `--rounds`; the ratio is ours over stock.

    .venv/bin/python bench/bench_llm.py [--rounds 3] [--tokens 1000]
"""

from __future__ import annotations

import argparse
import sys
import time
from importlib.metadata import version
from typing import Any

from _common import sample_corpus, stock_llm, summary, table

from assistant import Settings
from assistant.llms import _llama
from assistant.models import local_model_path

DECODED = 40


def speeds(llama: Any, prompt: list[int], rounds: int) -> tuple[float, float]:
    """Best prompt and decode tokens per second over `rounds`, each from an empty context."""
    read, write = 0.0, 0.0
    for _ in range(rounds):
        llama.reset()
        start = time.perf_counter()
        llama.eval(prompt)
        read = max(read, len(prompt) / (time.perf_counter() - start))
        start = time.perf_counter()
        for count, _token in enumerate(llama.generate([prompt[-1]], temp=0.0, reset=False), 1):
            if count >= DECODED:
                break
        write = max(write, DECODED / (time.perf_counter() - start))
    return read, write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=1000)
    args = parser.parse_args(argv)
    settings = Settings()
    path = str(settings.llm.model or local_model_path())
    ours = _llama(path, settings.llm.n_ctx, settings.llm.threads, 0)
    text = " ".join(article["text"] for article in sample_corpus())
    prompt = list(ours.tokenize(text.encode(), add_bos=False))[: args.tokens]
    print(f"llama-cpp-python {version('llama-cpp-python')}, {len(prompt)} prompt tokens")
    ours_read, ours_write = speeds(ours, prompt, args.rounds)
    del ours
    _llama.cache_clear()
    stock = stock_llm(settings).client
    stock_read, stock_write = speeds(stock, prompt, args.rounds)
    rows = [
        ["ours", f"{ours_read:.0f}", f"{ours_write:.1f}"],
        ["stock ChatLlamaCpp", f"{stock_read:.0f}", f"{stock_write:.1f}"],
        ["ours / stock", f"{ours_read / stock_read:.2f}x", f"{ours_write / stock_write:.2f}x"],
    ]
    print(table(["model as loaded by", "prompt tokens/s", "decode tokens/s"], rows))
    summary(
        "bench_llm",
        f"prompt {ours_read:.0f} tok/s ({ours_read / stock_read:.2f}x stock), "
        f"decode {ours_write:.1f} tok/s ({ours_write / stock_write:.2f}x stock), "
        f"llama-cpp-python {version('llama-cpp-python')}",
        {"ours": [ours_read, ours_write], "stock": [stock_read, stock_write]},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
