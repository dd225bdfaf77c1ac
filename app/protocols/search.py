"""Full-text search over the protocol library, in memory.

Built once with the library. Each field's words count with a weight (a word
in the title matters more than one in the procedure); rarer words count more
(idf), and a word repeated in many fields gains less each time (saturation,
as in BM25). Every query word must match for a full result; when none matches all
words, protocols matching some are returned and marked ``partial``. A query
word of three letters or more also matches words it begins ("trap" finds
trapezius) at half weight. A query of several words that appears as a whole
in the title or a muscle, region or indication label scores higher. Filters
are exact vocabulary codes.
"""

from __future__ import annotations

import math
import re
import unicodedata
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from app.vocab import CATEGORIES, INDICATIONS, MUSCLES, REGIONS, label

if TYPE_CHECKING:
    from app.protocols.library import Protocol

WEIGHTS: dict[str, float] = {
    "title": 10.0,
    "muscles": 6.0,
    "indications": 5.0,
    "regions": 4.0,
    "summary": 3.0,
    "category": 3.0,
    "body": 1.0,
}
SATURATION = 8.0
PREFIX_FACTOR = 0.5
TITLE_PHRASE_BONUS = 2.0
LABEL_PHRASE_BONUS = 1.3
MIN_PREFIX = 3
MAX_QUERY_TERMS = 12
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "in",
        "into",
        "is",
        "it",
        "of",
        "on",
        "or",
        "the",
        "this",
        "that",
        "to",
        "with",
    ]
)
_WORD_RE = re.compile(r"[a-z0-9]+")
_CATEGORY_ORDER = {code: n for n, code in enumerate(CATEGORIES)}


@lru_cache(maxsize=50_000)
def _stem(word: str) -> str:
    """Fold simple plurals so "headaches" finds "headache" (and back)."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokens(text: str) -> list[str]:
    """Lowercase, accent-free, stemmed words of ``text``, without stop words."""
    folded = text.casefold()
    if not folded.isascii():
        folded = unicodedata.normalize("NFKD", folded)
        folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return [_stem(w) for w in _WORD_RE.findall(folded) if w not in STOPWORDS]


def _fields(protocol: Protocol) -> Iterator[tuple[str, str]]:
    yield "title", protocol.title
    yield "summary", protocol.summary
    yield "category", CATEGORIES[protocol.category].label
    yield "muscles", " ".join(label(MUSCLES, code) for code in protocol.muscles)
    yield "regions", " ".join(label(REGIONS, code) for code in protocol.regions)
    yield "indications", " ".join(label(INDICATIONS, code) for code in protocol.indications)
    yield "body", protocol.body


def default_order(protocol: Protocol) -> tuple[int, str]:
    """Browse order: category as in the vocabulary, then title."""
    return _CATEGORY_ORDER.get(protocol.category, len(_CATEGORY_ORDER)), protocol.title.casefold()


@dataclass(frozen=True)
class SearchResults:
    protocols: list[Protocol]
    partial: bool = False  # no protocol matched every word; these match some
    terms: tuple[str, ...] = ()


class SearchIndex:
    """Weighted inverted index: word -> {protocol position: field-weighted score}."""

    def __init__(self, protocols: Iterable[Protocol]) -> None:
        self._protocols = sorted(protocols, key=default_order)
        self._postings: dict[str, dict[int, float]] = {}
        self._phrases = [self._phrase_texts(p) for p in self._protocols]
        for position, protocol in enumerate(self._protocols):
            for name, text in _fields(protocol):
                weight = WEIGHTS[name]
                for word, count in Counter(tokens(text)).items():
                    posting = self._postings.setdefault(word, {})
                    posting[position] = posting.get(position, 0.0) + weight * (1 + math.log(count))
        for posting in self._postings.values():  # saturate, as BM25 does: repeats help less
            for pos, score in posting.items():
                posting[pos] = score / (score + SATURATION)
        total = max(len(self._protocols), 1)
        self._idf = {w: math.log(1 + total / len(p)) for w, p in self._postings.items()}
        self._vocabulary = sorted(self._postings)

    @staticmethod
    def _phrase_texts(protocol: Protocol) -> tuple[str, ...]:
        """Title and each muscle, region and indication label, for whole-phrase matches."""
        labels = [protocol.title]
        labels += [label(MUSCLES, code) for code in protocol.muscles]
        labels += [label(REGIONS, code) for code in protocol.regions]
        labels += [label(INDICATIONS, code) for code in protocol.indications]
        return tuple(f" {' '.join(tokens(text))} " for text in labels)

    def _matches(self, term: str) -> dict[int, float]:
        """Score per protocol for one query word: exact match, or best word it begins."""
        found = {pos: s * self._idf[term] for pos, s in self._postings.get(term, {}).items()}
        if len(term) < MIN_PREFIX:
            return found
        start = bisect_left(self._vocabulary, term)
        for word in self._vocabulary[start:]:
            if not word.startswith(term):
                break
            if word == term:
                continue
            for pos, score in self._postings[word].items():
                scaled = score * self._idf[word] * PREFIX_FACTOR
                if scaled > found.get(pos, 0.0):
                    found[pos] = scaled
        return found

    def search(
        self,
        query: str = "",
        *,
        category: str | None = None,
        region: str | None = None,
        muscle: str | None = None,
        indication: str | None = None,
    ) -> SearchResults:
        """Protocols passing every filter, ranked by ``query`` (browse order without one)."""
        allowed = {
            pos
            for pos, p in enumerate(self._protocols)
            if (not category or p.category == category)
            and (not region or region in p.regions)
            and (not muscle or muscle in p.muscles)
            and (not indication or indication in p.indications)
        }
        terms = tuple(dict.fromkeys(tokens(query)))[:MAX_QUERY_TERMS]
        if not terms:
            return SearchResults([p for pos, p in enumerate(self._protocols) if pos in allowed])
        scores: dict[int, float] = {}
        hits: Counter[int] = Counter()
        for term in terms:
            for pos, score in self._matches(term).items():
                if pos in allowed:
                    scores[pos] = scores.get(pos, 0.0) + score
                    hits[pos] += 1
        complete = [pos for pos in scores if hits[pos] == len(terms)]
        chosen = complete or list(scores)
        if len(terms) > 1:
            phrase = f" {' '.join(terms)} "
            for pos in chosen:
                title, *labels = self._phrases[pos]
                if phrase in title:
                    scores[pos] *= TITLE_PHRASE_BONUS
                elif any(phrase in text for text in labels):
                    scores[pos] *= LABEL_PHRASE_BONUS
        chosen.sort(key=lambda pos: (-scores[pos], default_order(self._protocols[pos])))
        return SearchResults(
            [self._protocols[pos] for pos in chosen],
            partial=bool(chosen) and not complete,
            terms=terms,
        )
