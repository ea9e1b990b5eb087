"""A newsroom desk at once: N users (default 20) ask the real UI at the same moment, local model.

The app is served in this process over a copy of the default index; every user is its own
gradio_client session (so its own user for the per-user caps) and asks one sample question.
Per user: seconds to the first answer token and to the end, whether the request ever waited in
Gradio's queue with a position or showed the chat's note waiting for the model (and how many
questions were ahead), and whether it failed. The baseline is one user alone, asked
first in the same run: with one model answering one question at a time, the p95 of N users is
about N times that.

    .venv/bin/python bench/bench_concurrency.py [--users 20] [--backend passages]
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

from _common import percentile, summary, table

from assistant import Assistant, ui
from assistant.evaluation import load_qa
from assistant.settings import DEFAULT_INDEX_DIR, PROJECT_DIR

AHEAD = re.compile(r"Waiting for the model \((\d+|next)")


def one_user(url: str, question: str, start: threading.Barrier, out: dict) -> None:
    """Ask once, streaming; note the first token, the end, and any queue position seen."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    start.wait()
    began = time.perf_counter()
    try:
        job = client.submit(question, 5, "", "", [], api_name="/chat")
        queued_at = None
        while not job.done():
            status = job.status()
            if status.rank is not None and status.rank > 0 and queued_at is None:
                queued_at = status.rank
            outputs = job.outputs()
            for o in outputs[-1:]:  # the "Reading" note says how many are ahead for the model
                if match := AHEAD.search(o[0]["content"] if o else ""):
                    ahead = 0 if match[1] == "next" else int(match[1])
                    out["ahead"] = max(out.get("ahead", 0), ahead)
            # a token shows as a second message under the (pending) "Reading" note
            if out.get("first") is None and any(len(o) == 2 for o in outputs):
                out["first"] = time.perf_counter() - began
            time.sleep(0.05)
        final = job.result()
        out["total"] = time.perf_counter() - began
        out.setdefault("first", out["total"])
        out["queued_at"] = queued_at
        out["ok"] = True
        out["sources"] = "Sources (" in final[-1]["content"]  # an abstention has none
        out["answer"] = final[-1]["content"][:200]
    except Exception as exc:  # a failed request is a result here
        out["total"] = time.perf_counter() - began
        out["ok"] = False
        out["error"] = repr(exc)[:200]


def run(url: str, questions: list[str]) -> list[dict]:
    results: list[dict] = [{} for _ in questions]
    barrier = threading.Barrier(len(questions))
    threads = [
        threading.Thread(target=one_user, args=(url, q, barrier, r))
        for q, r in zip(questions, results, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--backend", default="llamacpp")
    args = parser.parse_args(argv)
    qa = [item.question for item in load_qa(PROJECT_DIR / "data" / "sample" / "qa.jsonl")]
    questions = [qa[i % len(qa)] for i in range(args.users)]
    with tempfile.TemporaryDirectory(prefix="bench-concurrency-") as tmp:
        index = Path(tmp) / "index"
        shutil.copytree(DEFAULT_INDEX_DIR, index)
        assistant = Assistant(index_dir=index, llm={"backend": args.backend})
        assistant.ask(qa[-1])  # load the model and warm the prompt cache
        demo = ui.build_app(assistant)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
        url = f"http://127.0.0.1:{port}/"
        try:
            alone = run(url, questions[:1])[0]
            wall = time.perf_counter()
            crowd = run(url, questions)
            wall = time.perf_counter() - wall
        finally:
            demo.close()

    firsts = [r["first"] for r in crowd if r.get("ok")]
    totals = [r["total"] for r in crowd if r.get("ok")]
    failed = [r for r in crowd if not r.get("ok")]
    unsourced = [r for r in crowd if r.get("ok") and not r.get("sources")]
    queued = [r["queued_at"] for r in crowd if r.get("queued_at")]
    waited = [r["ahead"] for r in crowd if "ahead" in r]
    rows = [
        ["1 user alone", f"{alone['first']:.1f}", "-", f"{alone['total']:.1f}", "-"],
        [
            f"{args.users} users at once",
            f"{percentile(firsts, 0.5):.1f}" if firsts else "-",
            f"{percentile(firsts, 0.95):.1f}" if firsts else "-",
            f"{percentile(totals, 0.5):.1f}" if totals else "-",
            f"{percentile(totals, 0.95):.1f}" if totals else "-",
        ],
    ]
    print(table(["", "first token p50 s", "p95 s", "total p50 s", "p95 s"], rows))
    print(
        f"{len(failed)} failed, {len(unsourced)} answered without sources (abstained); "
        f"{len(queued)} waited in Gradio's queue with a position "
        f"(highest {max(queued, default=0)}); {len(waited)} showed a waiting note for the "
        f"model (most ahead {max(waited, default=0)}); wall {wall:.0f} s"
    )
    for r in failed:
        print("  failed:", r.get("error"))
    summary(
        "concurrency",
        f"{args.users} users at once ({args.backend}): first token p50 "
        f"{percentile(firsts, 0.5) if firsts else float('nan'):.1f}s p95 "
        f"{percentile(firsts, 0.95) if firsts else float('nan'):.1f}s, total p95 "
        f"{percentile(totals, 0.95) if totals else float('nan'):.1f}s vs "
        f"{alone['total']:.1f}s alone; {len(failed)} failed",
        {"users": args.users, "backend": args.backend, "alone": alone, "crowd": crowd},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
