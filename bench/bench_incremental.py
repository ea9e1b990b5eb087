"""Incremental index maintenance vs full rebuilds, on a generated corpus of news-like articles.

Generates N articles (~300 words each, Markdown with front matter) plus 10 more, then times:

  (a) a full build of the N articles;
  (b) re-adding the unchanged N articles (nothing is embedded or written) vs (a);
  (c) adding the 10 new articles to the N-article index (given alone, and given together with
      the unchanged N, as a daily `index add INBOX` would) vs a full rebuild of N + 10.

The model is loaded and warmed up before any timing. Not a test: it prints figures.

    .venv/bin/python bench/bench_incremental.py [--articles 1000] [--new 10] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


from _common import Timer, table


def _words(text: str) -> list[str]:
    return text.split()


FIRST = _words(
    "Olena Taras Iryna Petro Anna Mykola Sofia Andriy Maria Dmytro Yulia Oleh Kateryna "
    "Serhiy Natalia Viktor Halyna Ivan"
)
LAST = _words(
    "Hrytsenko Melnyk Bondar Savchuk Kovalenko Shevchuk Tkachenko Kravets Lysenko Moroz "
    "Rudenko Pavlenko Marchenko Polishchuk"
)
CITIES = _words(
    "Kyiv Lviv Odesa Kharkiv Dnipro Vinnytsia Poltava Sumy Rivne Chernihiv Zhytomyr "
    "Uzhhorod Mykolaiv Kherson Ternopil Lutsk"
)
BODIES = [
    "water utility",
    "rail operator",
    "grain exporter",
    "city council",
    "power company",
    "regional hospital",
    "port authority",
    "school board",
    "housing agency",
    "airline",
    "steel plant",
    "bus company",
    "fire service",
    "bank",
    "university",
]
TOPICS = [
    "repairs",
    "heating",
    "exports",
    "elections",
    "wages",
    "prices",
    "evacuations",
    "reconstruction",
    "investment",
    "security",
    "schooling",
    "transport",
]
DAYS = _words("Monday Tuesday Wednesday Thursday Friday Saturday Sunday")
MONTHS = _words(
    "January February March April May June July August September October November December"
)
SOURCES = ["Kyiv Wire", "Black Sea Chronicle", "Continental Desk", "Northern Observer"]

TITLES = [
    "{Body} in {city} announces {n} new jobs as {topic} plans take shape",
    "{city} {body} warns of {topic} delays after {day} meeting",
    "{person} named head of {city} {body}",
    "{city} residents question {body} over {topic}",
    "{body} in {city} reports {n} percent rise in {topic} spending",
]
SENTENCES = [
    "{person} said the {body} in {city} had set aside {n} million hryvnias for {topic}.",
    "Officials in {city} reported on {day} that {n} households were still waiting for help.",
    "The {body} plans to hire {n} engineers before {month}, according to {person}.",
    "Inspectors visited {n} sites around {city} and found most of them in working order.",
    "{person}, who leads the {body}, warned that costs could rise by {n} percent this year.",
    "Residents of {city} queued for {n} minutes at distribution points on {day}.",
    "A report by the {body} counted {n} damaged buildings across the {city} region.",
    "Volunteers in {city} delivered {n} generators to hospitals and schools on {day}.",
    "The mayor of {city} told reporters that {topic} would remain the priority until {month}.",
    "{person} declined to say how much of the {n} million hryvnias had already been spent.",
    "Critics, including {person}, argued that the {body} had been slow to act on {topic}.",
    "In {month}, the {body} signed a contract worth {n} million hryvnias with a Polish firm.",
    "Local journalists found that {n} of the promised projects in {city} had not started.",
    "The {body} said it would publish a full account of its {topic} budget by {month}.",
    "{person} thanked donors from {city} and abroad, who had given {n} thousand euros.",
    "Trains between {city} and {city2} ran {n} minutes late on average during the week.",
    "Prices for bread and milk in {city} rose by {n} percent since {month}, data showed.",
    "A spokesperson for the {body} said talks with {person} would continue on {day}.",
    "The regional council of {city} voted {n} to 12 in favour of the {topic} package.",
    "Engineers expect the work in {city} to take {n} days if the weather holds.",
    "{person} visited {city2} on {day} to compare its approach to {topic}.",
    "Schools in {city} reopened {n} classrooms after the {body} finished its checks.",
]


def _fill(template: str, rng: random.Random, city: str, body: str, topic: str) -> str:
    return template.format(
        person=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        city=city,
        city2=rng.choice(CITIES),
        body=body,
        Body=body.capitalize(),
        topic=topic,
        n=rng.randint(2, 9999),
        day=rng.choice(DAYS),
        month=rng.choice(MONTHS),
    )


def generate(folder: Path, start: int, count: int, seed: int, words: int = 300) -> Path:
    """`count` distinct articles numbered from `start`, each about `words` words long."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + count):
        rng = random.Random(f"{seed}-{i}")
        city, body, topic = rng.choice(CITIES), rng.choice(BODIES), rng.choice(TOPICS)
        paragraphs, paragraph, total = [], [], 0
        while total < words:
            sentence = _fill(rng.choice(SENTENCES), rng, city, body, topic)
            paragraph.append(sentence)
            total += len(sentence.split())
            if len(paragraph) >= rng.randint(3, 5):
                paragraphs.append(" ".join(paragraph))
                paragraph = []
        if paragraph:
            paragraphs.append(" ".join(paragraph))
        title = _fill(rng.choice(TITLES), rng, city, body, topic)
        date = f"2023-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        (folder / f"article-{i:05d}.md").write_text(
            f'---\ntitle: "{title}"\ndate: {date}\nsource: {rng.choice(SOURCES)}\n'
            f"url: https://example.org/bench/{seed}/{i}\n---\n\n" + "\n\n".join(paragraphs) + "\n",
            encoding="utf-8",
        )
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=1000, help="Size of the base corpus.")
    parser.add_argument("--new", type=int, default=10, help="Articles added incrementally.")
    parser.add_argument("--words", type=int, default=300, help="Words per article.")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from assistant import Assistant
    from assistant.stores.faiss import load_index

    work = Path(tempfile.mkdtemp(prefix="bench-incremental-"))
    try:
        base = generate(work / "base", 0, args.articles, args.seed, args.words)
        new = generate(work / "new", args.articles, args.new, args.seed, args.words)
        inbox = work / "inbox"  # yesterday's articles plus today's, as a daily add sees them
        shutil.copytree(base, inbox)
        shutil.copytree(new, inbox, dirs_exist_ok=True)
        index = work / "index"
        assistant = Assistant(index_dir=index)
        with Timer() as load:
            assistant.embedder.encode(["warm up the model"])

        with Timer() as build:
            built = assistant.build_index([base])
        chunks = built.chunks_embedded
        with Timer() as readd:
            unchanged = assistant.add_articles([base])
        assert unchanged.chunks_embedded == 0 and len(unchanged.unchanged) == args.articles
        with Timer() as reload:
            load_index(index, assistant.settings)

        saved = work / "saved"
        shutil.copytree(index, saved)
        with Timer() as add_new:
            added = assistant.add_articles([new])
        assert len(added.added) == args.new
        shutil.rmtree(index)
        shutil.copytree(saved, index)
        with Timer() as add_inbox:
            daily = assistant.add_articles([inbox])
        assert len(daily.added) == args.new and len(daily.unchanged) == args.articles
        with Timer() as rebuild:
            rebuilt = assistant.build_index([base, new])
        total = args.articles + args.new
        assert len(rebuilt.added) == total
    finally:
        shutil.rmtree(work, ignore_errors=True)

    rows = [
        ("model load + warm-up", load.seconds, None, None),
        (f"(a) full build, {args.articles} articles", build.seconds, chunks, 1.0),
        (f"(b) re-add {args.articles} unchanged", readd.seconds, 0, build.seconds / readd.seconds),
        ("    (load + verify the index alone)", reload.seconds, None, None),
        (
            f"(c) add {args.new} new (folder of new only)",
            add_new.seconds,
            added.chunks_embedded,
            rebuild.seconds / add_new.seconds,
        ),
        (
            f"(c) add {args.new} new (inbox of {total})",
            add_inbox.seconds,
            daily.chunks_embedded,
            rebuild.seconds / add_inbox.seconds,
        ),
        (f"    full rebuild, {total} articles", rebuild.seconds, rebuilt.chunks_embedded, 1.0),
    ]
    print(f"\n{args.articles} + {args.new} generated articles, ~{args.words} words each")
    print(table(["operation", "seconds", "chunks embedded", "x faster than full"], rows))
    print(f"embedding throughput in the full build: {chunks / build.seconds:.0f} chunks/s")
    print(
        f"\nsummary: build {args.articles}: {build.seconds:.1f}s; re-add unchanged "
        f"{readd.seconds:.2f}s ({build.seconds / readd.seconds:.0f}x faster); add {args.new} new "
        f"{add_new.seconds:.2f}s vs rebuild {total} {rebuild.seconds:.1f}s "
        f"({rebuild.seconds / add_new.seconds:.0f}x faster); {os.cpu_count()} cpu, "
        f"load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
