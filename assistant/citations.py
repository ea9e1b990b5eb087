"""Turn the model's raw text into an `Answer`: valid `[n]` markers only, and their sources.

The model sees sources numbered 1..N. Markers outside that range are removed, `[1, 2]` becomes
`[1][2]`, a sentence the model left uncited gets the source that contains its words (when one
clearly does), and the citations list only the sources the final text cites.

Small local models sometimes copy a figure from the wrong passage, or name someone no passage
names. A sentence stating a number, or adding a name, that none of its cited sources (nor the
question) contains is dropped; an answer left with nothing becomes the refusal.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import date

from assistant.types import Answer, Citation, Passage

CANNOT_ANSWER = "The articles I have do not contain the answer to this question."
# Where the model's reply is known to be the refusal: decoding stops there (the words after it
# cost about 0.3 s on 2 cores, on every try after a refusal) and the reply reads as refused.
REFUSAL_OPENING = " ".join(CANNOT_ANSWER.split()[:6])

_GROUP = re.compile(r"\[\s*(?:sources?\s*)?(\d+(?:\s*[,;]\s*(?:sources?\s*)?\d+)*)\s*\]", re.I)
_MARKER = re.compile(r"\[(\d+)\]")
_PARTIAL_MARKER = re.compile(r"\[\d*$")
# A line opening with a marker is the model copying the source list ("[5] Title (date)")
SOURCE_LIST = "\n["
_LISTED = re.compile(r"\n\s*\[\d+\]")
_REPLY_WORD = re.compile(r"[^\W_]+")
_FUNCTION = "a an the is are was were be been has have had it its this that of to in on at by for"
_FUNCTION_WORDS = frozenset(f"{_FUNCTION} with from and as s".split())
_WORD = re.compile(r"\w+")
_STOPWORDS = (
    "a an and are as at be by for from had has have he her his in is it its of on or that the "
    "their they this to was were which who will with said"
)
_STOP = frozenset(_STOPWORDS.split())
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NAME = re.compile(r"\b[A-Z][\w'\u2019-]*")
_POSSESSIVE = re.compile(r"['\u2019]s$")  # "Kissinger's" is Kissinger
_TOKEN = re.compile(r"[\w'\u2019-]+")  # a word with its apostrophes and hyphens
# Capitalised only because they open a clause (after a colon or a quote mark), not names.
_CLAUSE_STARTERS = (
    "according after also although another answer articles before both but despite during "
    "however if in many most no not on one other over since some source sources than then "
    "there these they this those though under unlike until we when where whereas while yes you "
    "what which whom whose why how did does do can could would should"  # open a question
)
_STARTERS = frozenset(_CLAUSE_STARTERS.split())
# Capitalised, but dates, not what a story is about ("the September 14th mailing").
_CALENDAR = frozenset(n.lower() for n in (*calendar.month_name[1:], *calendar.day_name))
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_NEXT_YEAR = re.compile(r"\b(?:next|coming|following)\b[\w\s-]{0,15}?\byear\b", re.I)
_LAST_YEAR = re.compile(r"\b(?:last|previous|past)\s+year\b", re.I)
FOLLOWING = " (follow-up to: "  # how the chain appends earlier questions to a follow-up


def own_words(question: str) -> str:
    """The question without the earlier ones the chain appended to it: "Who questioned that
    spending? (follow-up to: How much ...?)" asks who, not how much."""
    return question.split(FOLLOWING)[0]


def _pieces(text: str) -> list[str]:
    """Sentences and the gaps between them, alternating, so that joined they give `text`.

    Boundaries come from the same sentence segmenter as chunking, which knows that "No. 1",
    "St. George's", "U.S." and "$1.85" do not end a sentence, so a marker never lands inside
    them."""
    from assistant.chunking import sentence_spans

    pieces, cursor = [], 0
    for start, end in sentence_spans(text):
        pieces += [text[cursor:start], text[start:end]]
        cursor = end
    pieces.append(text[cursor:])
    return pieces


def _normalise(text: str) -> str:
    return _GROUP.sub(lambda m: "".join(f"[{n}]" for n in re.findall(r"\d+", m.group(1))), text)


def is_refusal(text: str) -> bool:
    """True when the reply is (or starts with) the fixed cannot-answer sentence."""
    head = " ".join(text.split()).lower()
    phrase = CANNOT_ANSWER.lower().rstrip(".")
    return head.startswith(phrase) or (phrase in head and len(head) < 2 * len(phrase))


def _reply_words(text: str) -> list[str]:
    return _REPLY_WORD.findall(_PARTIAL_MARKER.sub(" ", _MARKER.sub(" ", text)).lower())


def may_restate(text: str, question: str) -> bool:
    """Whether a reply so far (its last word perhaps still growing) uses only the question's
    words and a few function words: it may turn out to be the question read back."""
    words = _reply_words(text)
    if not words:
        return True
    asked = set(_REPLY_WORD.findall(question.lower())) | _FUNCTION_WORDS
    *whole, last = words
    if text[-1:].isalnum():
        return all(w in asked for w in whole) and any(a.startswith(last) for a in asked)
    return all(w in asked for w in words)


def _heading_words(text: str) -> list[str]:
    """The words of a reply or heading, less its markers (one perhaps still open: "[2")."""
    return _REPLY_WORD.findall(_OPEN_MARKER.sub("", _MARKER.sub("", text)).lower())


_OPEN_MARKER = re.compile(r"\[\d*$")


def heading_forms(headings: Sequence[str]) -> list[list[str]]:
    """Sources' headings as a reply may copy them, as words: with or without the date, with
    or without "The". Made once per reply, not per token."""
    forms = []
    for heading in headings:
        for form in (_heading_words(heading), _heading_words(heading.rsplit(" (", 1)[0])):
            forms += [form, ["the", *form]]
    return forms


def may_copy_heading(text: str, forms: list[list[str]]) -> bool:
    """Whether a reply so far reads as the start of a source's heading ("The EU Adopts Ninth
    Sanctions Package ... (2022-12-17)"; `forms`: see `heading_forms`): the small model
    sometimes answers with one."""
    words = _heading_words(text)
    if not words:
        return False
    *whole, last = words
    growing = text[-1:].isalnum()  # its last word may still grow: "Ad" of "Adopts"

    def starts(form: list[str]) -> bool:
        if len(form) < len(words) or form[: len(whole)] != whole:
            return False
        return form[len(whole)].startswith(last) if growing else form[len(whole)] == last

    return any(starts(form) for form in forms)


def copies_heading(text: str, forms: list[list[str]]) -> bool:
    """Whether a whole reply is a source's heading (`forms`: see `heading_forms`)."""
    return _heading_words(text) in forms


_HOW_MANY = re.compile(r"\bhow\s+(?:many|much)\b", re.I)
_QUANTITY = re.compile(
    r"\d+(?:[.,]\d+)*|\b(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"\w+teen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundreds?|thousands?|"
    r"millions?|billions?|trillions?|dozens?|several|few|half|third|quarter|none|nobody|both|"
    r"twice|all|most|majority|handful)\b",
    re.I,
)
_TIME_UNIT = re.compile(r"\s+(?:-\s*)?(second|minute|hour|day|week|month|year)s?\b", re.I)


def lacks_quantity(reply: str, question: str, complete: bool = True) -> bool:
    """A reply to "how many" or "how much" that gives no figure, not even "most": the small
    model answers "How many were shot down?" with a nearby sentence that has none. A date
    ("September 1", 2022) or a span of time ("several weeks") is no figure unless the question
    asks for days, weeks or years. While a reply streams (`complete` False), a figure at its
    very end is not counted yet: what follows may make it a date or a span."""
    if not _HOW_MANY.search(question):
        return False
    text = _PARTIAL_MARKER.sub(" ", _MARKER.sub(" ", reply))  # "[1" while it streams
    return not any(complete or m.end() < len(text) for m in _counts(text, question))


def _counts(text: str, question: str) -> Iterator[re.Match[str]]:
    """The figures in `text` that count something: no years, dates ("September 1"), or spans
    of time ("several weeks") unless the question asks for days, weeks or years."""
    for match in _QUANTITY.finditer(text):
        figure, before = match.group(0), text[: match.start()].split()[-1:]
        if _YEAR.fullmatch(figure) or (before and before[0].lower() in _CALENDAR):
            continue
        unit = _TIME_UNIT.match(text, match.end())
        if unit and unit.group(1).lower() not in question.lower():
            continue
        yield match


_HOW = frozenset({"how", "many", "much"})
_PART_OF = re.compile(r"\s+of\s+(?:the|those|them|these|whom)\b", re.I)
_CLAUSE_END = re.compile(r"[.!?;]")


def lacks_whole_count(text: str, question: str) -> bool:
    """A passage with no count for a "how many" question, or only a part of one: "18 of the
    injured were in serious condition" answers "How many were in serious condition?" but
    not "How many people were wounded?", which the lede's "wounding 55" does. A part counts
    when the rest of its clause shares a word with the question."""
    own = own_words(question)
    if not _HOW_MANY.search(own):
        return False
    asked = set(_reply_words(own)) - _FUNCTION_WORDS - _HOW
    for match in _counts(text, question):
        if not _PART_OF.match(text, match.end()):
            return False
        end = _CLAUSE_END.search(text, match.end())
        clause = text[match.end() : end.start() if end else len(text)]
        if asked & set(_reply_words(clause)):
            return False
    return True


def restates(reply: str, question: str) -> bool:
    """The question read back, not an answer ("The man who recorded the fatal shooting of
    Ahmaud Arbery has been arrested [1]" to "...What is his name?"): only the question's words,
    at least three of its content words and at least half of them. A short reply in its words
    ("Biden won" to "Biden or Trump?") is an answer."""
    if not reply.strip() or not may_restate(reply.rstrip() + " ", question):
        return False
    asked = set(_REPLY_WORD.findall(question.lower())) - _FUNCTION_WORDS
    said = set(_reply_words(reply)) - _FUNCTION_WORDS
    return len(said) >= 3 and len(said) >= len(asked) / 2


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and not w.isdigit()} | {
        w for w in _WORD.findall(text) if w.isdigit()
    }


def _attribute(sentence: str, passages: list[Passage], share: float = 0.6) -> int | None:
    """The source holding most of a sentence's words, if it holds more than `share` of them."""
    words = _content_words(_MARKER.sub("", sentence))
    if len(words) < 3:
        return None
    best, best_share = None, share
    for number, passage in enumerate(passages, start=1):
        share = len(words & _content_words(passage.chunk.text + " " + passage.title)) / len(words)
        if share > best_share:
            best, best_share = number, share
    return best


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


def _cited(sentence: str, passages: list[Passage]) -> list[Passage]:
    """The sources a sentence cites; every source when it cites none."""
    numbers = [int(n) for n in _MARKER.findall(sentence)]
    return [passages[n - 1] for n in numbers] if numbers else list(passages)


def _numbers_supported(sentence: str, question: str, passages: list[Passage]) -> bool:
    """Every number the sentence states is in a source it cites (any source, if uncited)."""
    claimed = _numbers(_MARKER.sub("", sentence))
    if not claimed:
        return True
    support = _numbers(question)
    for p in _cited(sentence, passages):
        support |= _numbers(f"{p.chunk.text} {p.title} {p.date or ''}".replace("-", " "))
    return claimed <= support


def _names(text: str, first: bool = False) -> set[str]:
    """Capitalised words after the first (names of people, places, organisations: the first
    word is capitalised anyway), possessives dropped; `first`: the first word as well."""
    skip = 1 if text.strip()[:1].isupper() and not first else 0
    found = {_as_name(word) for word in _NAME.findall(text.strip())[skip:]}
    return {name.lower() for name in found if name}


def _as_name(word: str) -> str | None:
    """A capitalised word without its possessive, unless it is too short, a stop word or a
    clause starter to be a name."""
    word = _POSSESSIVE.sub("", word)
    if len(word) > 1 and word.lower() not in _STOP and word.lower() not in _STARTERS:
        return word
    return None


def _names_supported(sentence: str, question: str, passages: list[Passage]) -> bool:
    """Every name the sentence adds to the question is in a source it cites (any source, if
    uncited): a small model's made-up answer usually names someone its sources do not.

    A name matches a word of the sources that starts like it ("Ukrainian" and "Ukraine")."""
    bare = _MARKER.sub("", sentence)
    # a reply that is only a name ("Kissinger.") opens with it: its first word counts too
    first = _only_a_name(bare) or _opens_with_a_name(bare, passages)
    claimed = _names(bare, first=first) - _names(question)
    if not claimed:
        return True
    support = " ".join(
        f"{p.chunk.text} {p.title} {p.source or ''}" for p in _cited(sentence, passages)
    ).lower()
    return all(mentions(support, name) for name in claimed)


def _opens_with_a_name(sentence: str, passages: list[Passage]) -> bool:
    """The sentence's first word is one the sources capitalise mid-sentence, a name: in
    "Kissinger set it [2]." it is the name to check, where "The" or "Officials" is not."""
    opening = _NAME.match(sentence.strip())
    if opening is None:
        return False
    word = _as_name(opening.group())
    if word is None:
        return False
    inside = re.compile(r"(?<=[a-z0-9,;] )" + re.escape(word) + r"\b")
    return any(inside.search(p.chunk.text) for p in passages)


def _on_topic(sentence: str, question: str, passages: list[Passage]) -> bool:
    """A source the sentence cites (any source, if uncited) names someone or something the
    question names: "Jim Hackett is retiring from Disney [1]", drawn from a passage about
    Disney's chief once Hackett's article is gone, answers from the wrong story. Acronyms
    ("IAEA" is spelled out in many articles) and month and day names are left out; a question
    naming nothing else passes. A name of three words or more counts when most of its words
    are there, or its last, the one the others qualify: "Henry Kissinger [3]" for the Nobel
    Peace Prize, from a passage on a negotiated peace, shares only "peace" with it, while a
    passage naming Biden is about "President-elect Joe Biden"."""
    asked = _asked_names(question)
    if not asked:
        return True
    support = _support(sentence, passages)
    return any(_names_run(support, run) for run in asked)


def _asked_names(question: str) -> list[list[str]]:
    """The question's runs of names, acronyms and month and day names left out."""
    acronyms = {w.lower() for w in _NAME.findall(question) if w.isupper()}
    left_out = acronyms | _CALENDAR
    runs = [[w for w in run if w not in left_out] for run in _name_runs(question)]
    return [run for run in runs if run]


def _names_run(support: str, run: list[str]) -> bool:
    """`support` (lower case) names the run: all of a short one's words, or most of a long
    one's, or its last word (see `_on_topic`). "Peace" alone does not name "Peace Prize": a
    passage on a peace summit was cited for who won it."""
    named = [mentions(support, name) for name in run]
    return named[-1] or 2 * sum(named) > len(run)


def same_story(question: str, passage: Passage, share: float, since: date | None) -> bool:
    """Whether `passage` reports the very story the question asks after, not only its topic:
    its text and title hold every name the question names and at least `share` of its
    content words, and it is dated `since` or later when that is given.

    Names alone would let any story on the people named through, and a share alone the same
    topic in another week; together they still let "Lebanon ousted its Prime Minister" through
    for another country's ousting, asked without a date. On the dev sets (RealTime QA 2020
    passages, 2023 pages asked as of their week), the closest passage that passed at 0.5 held
    the answer for 69 of 89 questions with it in the pool, and was another story's for 14 of
    457 once it was taken out (README, "Answers on unseen news")."""
    if since is not None and not (passage.date and passage.date[:10] >= since.isoformat()):
        return False
    text = f"{passage.chunk.text} {passage.title}"
    support = text.lower()
    if not all(_names_run(support, run) for run in _asked_names(question)):
        return False
    words = _content_words(own_words(question))
    held = words & _content_words(text)
    return bool(words) and len(held) >= share * len(words)


def _support(sentence: str, passages: list[Passage]) -> str:
    """The text and titles of the sources the sentence cites (all, if uncited), lower case."""
    return " ".join(f"{p.chunk.text} {p.title}" for p in _cited(sentence, passages)).lower()


def _name_runs(text: str) -> list[list[str]]:
    """The words of `_names`, grouped as they stand together ("Nobel Peace Prize")."""
    names, runs, run = _names(text), [], []
    words = _TOKEN.findall(text)
    for i, word in enumerate(words):
        bare = _POSSESSIVE.sub("", word).lower()
        if i and word[:1].isupper() and bare in names:
            run.append(bare)
            continue
        if run:
            runs.append(run)
        run = []
    return [*runs, run] if run else runs


def _years_supported(sentence: str, question: str, passages: list[Passage]) -> bool:
    """A year the question names is one a source the sentence cites (any, if uncited) speaks
    of: named in it, or its own year, or the year after or before when it says "the coming
    year" or "last year". "How much electricity did the plant produce in 2021?" is not
    answered by its capacity in a 2022 article, nor "Best Director at the 2023 Golden Globes"
    by a 2015 winner."""
    asked = set(_YEAR.findall(own_words(question)))
    if not asked:
        return True
    spoken: set[str] = set()
    for p in _cited(sentence, passages):
        if not (p.date and p.date[:4].isdigit()):
            return True  # an undated source may be of any year: no ground to drop
        text, year = f"{p.chunk.text} {p.title}", int(p.date[:4])
        spoken |= {*_YEAR.findall(text), str(year)}
        spoken |= {str(year + 1)} if _NEXT_YEAR.search(text) else set()
        spoken |= {str(year - 1)} if _LAST_YEAR.search(text) else set()
    return asked <= spoken


def _supported(sentence: str, question: str, passages: list[Passage]) -> bool:
    return (
        _numbers_supported(sentence, question, passages)
        and _names_supported(sentence, question, passages)
        and _on_topic(sentence, question, passages)
        and _years_supported(sentence, question, passages)
        and _yes_supported(sentence, question, passages)
    )


_YES_NO = re.compile(
    r"^\s*(?:did|does|do|is|are|was|were|has|have|had|will|would|can|could|should)\b", re.I
)


def _yes_supported(sentence: str, question: str, passages: list[Passage]) -> bool:
    """A yes-or-no question answered in its own words ("The bill passed [1]" to "Did the bill
    pass?") says yes: the words must stand in a source it cites (any, if uncited), stems
    compared. The source said Congress was about to vote on the bill, not that it passed."""
    asked = own_words(question)
    if not _YES_NO.match(asked):
        return True
    stems = {w[:4] for w in _REPLY_WORD.findall(asked.lower())}
    said = set(_reply_words(sentence)) - _FUNCTION_WORDS
    if not said or any(w[:4] not in stems for w in said):
        return True  # it adds words of its own, which the other checks read
    support = _support(sentence, passages)
    return all(mentions(support, word) for word in said)


def _repoint(sentence: str, question: str, passages: list[Passage]) -> str:
    """A sentence its cited source does not support cites, instead, the source it comes from:
    the small model often copies the right words with the wrong number.

    A sentence whose figures are missing moves to the first source that holds them (and its
    names), and so does an answer that is a name and nothing else ("Narendra Modi [2]."):
    it claims no more than the name. Otherwise the sentence must be nearly a copy of the new
    source (80% of its words): names alone are no ground to move a marker, as a made-up
    "Kissinger won the Nobel Prize" would find a source that names Kissinger."""
    if not _MARKER.search(sentence) or _supported(sentence, question, passages):
        return sentence
    bare = _MARKER.sub("", sentence)
    if _numbers_supported(sentence, question, passages) and not _only_a_name(bare):
        copied = _attribute(bare, passages, share=0.8)
        numbers = [] if copied is None else [copied]
    else:
        numbers = list(range(1, len(passages) + 1))
    for number in numbers:
        if _supported(f"{bare} [{number}]", question, passages):
            return _with_marker(bare, number)
    return sentence


def _only_a_name(text: str) -> bool:
    """A few capitalised words and nothing else: "Narendra Modi.", "Poland"."""
    words = _TOKEN.findall(text)
    return 0 < len(words) <= 4 and all(w[:1].isupper() for w in words)


def _with_marker(sentence: str, number: int) -> str:
    """`sentence` with `[number]` before its closing punctuation (and its trailing space)."""
    end = len(sentence.rstrip().rstrip(".!?"))
    return f"{sentence[:end].rstrip()} [{number}]{sentence[end:]}"


def new_names(question: str, earlier: Sequence[str]) -> set[str]:
    """The names a follow-up gives that the earlier questions did not ("And in Bakhmut?");
    one that gives none ("What was the city's population?") stays on their story."""
    known: set[str] = set().union(*(_names(q) for q in earlier))
    return _names(question) - known


def mentions(text: str, name: str) -> bool:
    """`text` (lower case) has a word that starts like `name` ("Ukrainian" for Ukraine)."""
    return re.search(r"\b" + re.escape(name[: max(4, len(name) - 3)]), text) is not None


def finalize(
    question: str,
    raw: str,
    passages: list[Passage],
    asked: str | None = None,
    story: frozenset[str] = frozenset(),
    since: date | None = None,
) -> Answer:
    """Clean the model's reply and resolve its markers against `passages` (numbered from 1).

    `asked`: the question the model answered, when a follow-up was rewritten to stand alone
    ("Who did Zelensky hand the flag to?" for "Who did he hand it to?"); the checks read it,
    as the names a follow-up leans on are in it alone.

    `story`: the articles a follow-up that names nothing new continues. An answer citing none
    of them is about another story and becomes the refusal: asked "What was the city's
    population before the war?" about Kherson, the model gave Bakhmut's.

    `since`: the earliest day a cited source may be dated, when the question names its days
    ("this week"); a sentence citing only older sources is dropped.

    An answer that cites nothing, once every sentence that a source clearly holds has its
    marker, stands on no source and becomes the refusal: "The Nobel committee met in Oslo
    this week. Who won the 2022 Peace Prize?" was answered, uncited, with a foreign minister
    whom a source names on another matter."""
    asked = asked or question
    if story:
        # The story check below keeps the answer on the story; the earlier questions a
        # follow-up was searched with need not be repeated in the paragraph that answers it
        # ("Who presented the proposals?": von der Leyen's paragraph does not name Moscow).
        asked = own_words(asked)
    answer = replace(_checked(asked, raw, passages, since), question=question)
    if not answer.citations or (story and not any(c.article_id in story for c in answer.citations)):
        return Answer(question, CANNOT_ANSWER, (), True, tuple(passages))
    return answer


def _recent_enough(sentence: str, passages: list[Passage], since: date | None) -> bool:
    """A source the sentence cites (any, if uncited) is dated `since` or later, or undated."""
    return since is None or any(
        not p.date or p.date[:10] >= since.isoformat() for p in _cited(sentence, passages)
    )


def _checked(question: str, raw: str, passages: list[Passage], since: date | None = None) -> Answer:
    text = _normalise(_LISTED.split(raw.strip(), maxsplit=1)[0].strip())
    if not text or is_refusal(text):
        return Answer(question, CANNOT_ANSWER, (), True, tuple(passages))
    valid = range(1, len(passages) + 1)
    text = _MARKER.sub(lambda m: m.group(0) if int(m.group(1)) in valid else "", text)
    pieces = _pieces(text)
    if pieces[-2].rstrip().endswith(":"):
        # what introduced the copied source list ("Other developments:") goes with it
        pieces[-2] = ""
    for i, sentence in enumerate(pieces):
        if sentence.strip() and not _MARKER.search(sentence):
            number = _attribute(sentence, passages)
            if number is not None:
                pieces[i] = _with_marker(sentence, number)
    pieces = [_repoint(piece, question, passages) for piece in pieces]

    def holds(piece: str) -> bool:
        return _supported(piece, question, passages) and _recent_enough(piece, passages, since)

    opening = next((piece for piece in pieces if piece.strip()), "")
    if opening and not holds(opening):
        # The opening sentence is the answer; what follows it is context copied from a
        # source ("The bill passed [1]. Some Republican lawmakers have questioned ... [2]").
        return Answer(question, CANNOT_ANSWER, (), True, tuple(passages))
    kept = [
        piece
        for piece in pieces
        if not piece.strip() or (holds(piece) and not restates(piece, question))
    ]
    if not any(_WORD.search(_MARKER.sub("", piece)) for piece in kept):
        return Answer(question, CANNOT_ANSWER, (), True, tuple(passages))
    text = "".join(kept)
    text = re.sub(r"[ \t]+([.,;:!?])", r"\1", text)
    text = re.sub(r"(\S)\[", r"\1 [", text)
    text = re.sub(r"\] \[", "][", text)
    text = re.sub(r"[ \t]{2,}", " ", text).strip()
    cited = sorted({int(n) for n in _MARKER.findall(text)})
    citations = tuple(Citation.from_passage(n, passages[n - 1]) for n in cited)
    return Answer(question, text, citations, False, tuple(passages))
