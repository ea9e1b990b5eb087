"""Which quiz choice a free-text reply names: the answers bench's judge.

RealTime QA's quizzes have four choices and one gold; the pipelines reply in sentences ("The
Patriots had to play … without quarterback Cam Newton [1]"). Each choice is scored by the
share of its content words the reply says; a word also counts as said in another form of
the same stem when the choice writes it in lower case ("breaking" for "break", by the
Snowball stemmer; a name must be said as written: "unit" is not "United") or its demonym form
("Brazilian" for Brazil), a choice of capitalized words by its initials ("USC"), and one of
three words or more by its last word written as a name ("Patriots"), unless another choice
ends in the same word. The reply is right when the gold choice scores highest, alone, at 0.5
or more; when the whole reply ties it with another choice (an answer that adds "Retailers
like Target … also held sales"), its first sentence, the answer itself, settles the tie.

Pure functions over strings: the same judge for ours and for stock, testable without a model.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterator

import sentencex
import snowballstemmer
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

# Function words say nothing about which choice is meant: "How happy the American people are"
# must not score against "how many people are testing positive" for its "how" and "are".
_STOP = frozenset(ENGLISH_STOP_WORDS) | {"dr", "mr", "ms", "mrs"}

# Typographic apostrophes and dashes made plain before accents are dropped: dropped with them,
# the gold "Edy(U+2019)s Pie" would read "edys pie" and miss a reply's "Edy's Pie".
_PLAIN = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2013": "-", "\u2014": "-"})
_DEMONYM_ENDINGS = ("n", "an", "ian", "ese", "i", "ish")
# "making history by breaking the sound barrier" says "First to break the sound barrier"
_STEMMER = snowballstemmer.stemmer("english")


def words(text: str) -> list[str]:
    """Lower-case ASCII words; a number keeps its decimal point or thousands comma."""
    text = unicodedata.normalize("NFKD", text.translate(_PLAIN))
    text = text.encode("ascii", "ignore").decode().lower()
    return re.findall(r"[a-z0-9]+(?:[.,][0-9]+)*", text)


def _demonyms(word: str) -> set[str]:
    """Brazil -> Brazilian, Ukraine -> Ukrainian, China -> Chinese, Israel -> Israeli."""
    if len(word) < 4 or not word.isalpha():
        return set()
    stems = {word, word[:-1]} if word[-1] in "aeiouy" else {word}
    return {stem + ending for stem in stems for ending in _DEMONYM_ENDINGS}


def _initials(option: str) -> str:
    capitals = [w for w in re.findall(r"[A-Za-z][\w'-]*", option) if w[0].isupper()]
    return "".join(w[0] for w in capitals) if len(capitals) >= 2 else ""


def choice_scores(reply: str, options: list[str]) -> list[float]:
    """Per choice, how fully the reply names it (0 to 1)."""
    said = set(words(reply))
    stems = set(_STEMMER.stemWords(sorted(said)))
    names = set(words(" ".join(re.findall(r"\b[A-Z][\w'-]*", reply.translate(_PLAIN)))))
    acronyms = {t.replace(".", "") for t in re.findall(r"\b(?:[A-Z]\.?){2,}", reply)}
    contents = [[w for w in words(o) if w not in _STOP] or words(o) for o in options]
    endings = Counter(content[-1] for content in contents if content)
    scores = []
    for option, content in zip(options, contents, strict=True):
        common = set(words(" ".join(re.findall(r"\b[a-z][\w'-]*", option.translate(_PLAIN)))))
        hits = sum(
            w in said
            or (w in common and _STEMMER.stemWord(w) in stems)
            or not said.isdisjoint(_demonyms(w))
            for w in content
        )
        score = hits / len(content) if content else 0.0
        if len(content) >= 3 and content[-1] in names and endings[content[-1]] == 1:
            score = max(score, 0.5)
        initials = _initials(option)
        if initials and initials in acronyms:
            score = 1.0
        scores.append(score)
    return scores


def _reply_then_its_first_sentence(reply: str) -> Iterator[str]:
    """The whole reply, then (only if asked for: most replies name one choice) its first
    sentence, found by sentencex as chunking finds it: "Lloyd B. Johnson" or "U.S." does not
    end it."""
    yield reply
    yield next(iter(sentencex.segment("en", reply.strip())), "")


def named(reply: str, options: list[str]) -> int | None:
    """The index of the one choice the reply names, or None (none, or a tie it cannot settle)."""
    for text in _reply_then_its_first_sentence(reply):
        scores = choice_scores(text, options)
        best = max(scores, default=0.0)
        if best < 0.5:
            return None
        if scores.count(best) == 1:
            return scores.index(best)
    return None


def judge(reply: str, refused: bool, options: list[str], gold: str) -> str:
    """right, refused or wrong: right when the reply names the gold choice (see `named`)."""
    choice = named(reply, options)
    if choice is not None and options[choice] == gold:
        return "right"
    return "refused" if refused else "wrong"
