"""The lexicon analyzer's lookup tables: vendored lexicons and vocabularies, built once."""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from policy_service.analysis import lexicon_de, lexicon_en, lexicon_fr
from policy_service.analysis.language import LanguageDetector
from policy_service.analysis.lexicon_vocab import EMOJI, EMOTICONS, EXPLICIT, Vocabulary

VOCABULARIES: dict[str, Vocabulary] = {
    "en": lexicon_en.VOCABULARY,
    "fr": lexicon_fr.VOCABULARY,
    "de": lexicon_de.VOCABULARY,
}
BASE_LEXICONS = {"en": "vader_en.tsv", "fr": "textblob_fr.tsv", "de": "textblob_de.tsv"}

# Tuned on the training data only (see docs/analysis.md).
# textblob's polarities (-1 .. 1) onto VADER's valence scale (-4 .. 4).
POLARITY_SCALE = {"fr": 3.0, "de": 2.5}
# Vendored entries weaker than this are dropped: textblob-fr scores common
# words ("tout" 0.22, "grand" 0.3) that carry no opinion in a comment.
MIN_BASE = {"fr": 0.2}
# An explicit crisis report ("injured", "hacked", "lawsuit") is a complaint
# even when worded calmly: it weighs like a complaint word.
EXPLICIT_COMPLAINT = -1.5
# German inflects adjectives ("schlechten", "coolsten"): endings tried, longest
# first, when a word is not in the lexicon.
GERMAN_SUFFIXES = ("sten", "ste", "en", "er", "es", "em", "e", "n", "s")


@dataclass(frozen=True, slots=True)
class Phrase:
    """What a word or phrase says besides the valence of its single words."""

    rest: tuple[str, ...] = ()  # the words after the first one
    valence: float | None = None  # a phrase's own valence, replacing its words'
    # The phrase holds its own negation ("not working", "pas terrible"): a
    # negator before it ("ce n'est pas terrible") does not turn it around.
    negative: bool = False
    complaint: float = 0.0
    courtesy: bool = False
    insult: bool = False
    profanity: bool = False
    threat: bool = False
    hate: bool = False
    suggestion: bool = False
    problem: bool = False
    topics: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Tables:
    """One language's lookups; read-only once built, so shared by all threads."""

    lang: str
    valence: Mapping[str, float]
    negators: frozenset[str]
    post_negators: frozenset[str]
    boosters: Mapping[str, float]
    contrast: frozenset[str]
    courtesy: frozenset[str]
    # First word -> the phrases starting with it, longest first.
    phrases: Mapping[str, tuple[Phrase, ...]]
    # (stem, topic, level): looked for inside words (German compounds).
    stems: tuple[tuple[str, str, int], ...]
    suffixes: tuple[str, ...]
    # The words scoring must look at: those with a valence, the first words of
    # phrases, contrast words. Any other word (most of a comment) adds nothing
    # but through an inflection (`suffixes`).
    scored: frozenset[str]


@dataclass(frozen=True, slots=True)
class Model:
    """Everything the analyzer reads: per-language tables, the detector, emoticons."""

    tables: Mapping[str, Tables]
    detector: LanguageDetector
    emoticons: Mapping[str, float]
    # Every word some language knows: tells "goood" (good) from "sooo" (so).
    known: frozenset[str]


@functools.cache
def load() -> Model:
    """Reads the data files and vocabularies once per process."""
    english = read_lexicon(BASE_LEXICONS["en"])
    # Emoticons are told from punctuation while tokenizing, before the language
    # is known: VADER's (its entries without letters or digits) and ours.
    emoticons = {
        token: value
        for token, value in english.items()
        if not any(char.isalnum() for char in token)
    }
    emoticons.update(EMOTICONS)
    tables = {lang: build(vocabulary, emoticons) for lang, vocabulary in VOCABULARIES.items()}
    own = {lang: frozenset(expand(lang, _own_words(v))) for lang, v in VOCABULARIES.items()}
    detector = LanguageDetector(
        {lang: frozenset(expand(lang, v.function_words)) for lang, v in VOCABULARIES.items()},
        # For texts without function words: the words each language's own
        # vocabulary knows. Only English adds its vendored lexicon (words
        # only): textblob's adjectives are often shared across languages.
        {
            "en": own["en"] | frozenset(word for word in english if word[:1].isalpha()),
            "fr": own["fr"],
            "de": own["de"],
        },
    )
    known = frozenset(
        word for t in tables.values() for table in (t.valence, t.phrases) for word in table
    )
    return Model(tables=tables, detector=detector, emoticons=emoticons, known=known)


def _own_words(vocabulary: Vocabulary) -> Iterator[str]:
    """The single words of a vocabulary's valences, complaints, insults and profanity."""
    for table in (
        vocabulary.valences,
        vocabulary.complaints,
        vocabulary.insults,
        vocabulary.profanity,
    ):
        yield from (phrase for phrase in table if " " not in phrase)


def read_lexicon(name: str) -> dict[str, float]:
    """A vendored `token<TAB>value` file of `data/`, without its `# ` header."""
    data = resources.files("policy_service.analysis").joinpath("data", name)
    table: dict[str, float] = {}
    for line in data.read_text("utf-8").splitlines():
        if line.startswith("# ") or "\t" not in line:
            continue
        token, _, value = line.partition("\t")
        table[token] = float(value)
    return table


def build(vocabulary: Vocabulary, emoticons: Mapping[str, float]) -> Tables:
    """The lookups of one language: its vendored lexicon overlaid with its vocabulary."""
    lang = vocabulary.lang
    scale = POLARITY_SCALE.get(lang, 1.0)
    floor = MIN_BASE.get(lang, 0.0)
    valence: dict[str, float] = {}
    for word, value in read_lexicon(BASE_LEXICONS[lang]).items():
        if abs(value) >= floor:
            for key in variants(lang, word):
                valence.setdefault(key, value * scale)
    valence.update(emoticons)
    valence.update(EMOJI)

    fields: dict[str, dict[str, Any]] = {}
    topics: dict[str, dict[str, int]] = {}

    def mark(phrases: Iterable[str], name: str, value: Any) -> None:
        for phrase in phrases:
            for key in variants(lang, phrase):
                fields.setdefault(key, {})[name] = value

    for phrase, value in vocabulary.valences.items():
        if " " in phrase:
            mark((phrase,), "valence", value)
        else:
            valence.update(dict.fromkeys(variants(lang, phrase), value))
    complaints = dict(vocabulary.complaints)
    for entries in vocabulary.topics.values():
        for phrase, level in entries.items():
            if level >= EXPLICIT:
                complaints[phrase] = min(complaints.get(phrase, 0.0), EXPLICIT_COMPLAINT)
    for phrase, weight in complaints.items():
        mark((phrase,), "complaint", weight)
    # Single courtesy words are looked up in `Tables.courtesy`; phrases with a
    # valence of their own ("vielen dank") carry the mark.
    mark((p for p in vocabulary.courtesy if " " in p), "courtesy", True)
    mark(vocabulary.insults, "insult", True)
    mark(vocabulary.profanity, "profanity", True)
    mark(vocabulary.threats, "threat", True)
    mark(vocabulary.hate, "hate", True)
    mark(vocabulary.suggestions, "suggestion", True)
    mark(vocabulary.problem_reports, "problem", True)
    for topic, entries in vocabulary.topics.items():
        for phrase, level in entries.items():
            for key in variants(lang, phrase):
                fields.setdefault(key, {})
                levels = topics.setdefault(key, {})
                levels[topic] = max(level, levels.get(topic, 0))

    negators = frozenset(expand(lang, vocabulary.negators))
    index: dict[str, list[Phrase]] = {}
    for key, values in fields.items():
        first, *rest = key.split(" ")
        found = Phrase(
            rest=tuple(rest),
            negative=len(rest) > 0 and any(word in negators for word in (first, *rest)),
            topics=tuple(sorted(topics.get(key, {}).items())),
            **values,
        )
        index.setdefault(first, []).append(found)
    contrast = frozenset(expand(lang, vocabulary.contrast))
    return Tables(
        lang=lang,
        valence=valence,
        negators=negators,
        post_negators=frozenset(expand(lang, vocabulary.post_negators)),
        boosters={k: v for word, v in vocabulary.boosters.items() for k in variants(lang, word)},
        contrast=contrast,
        courtesy=frozenset(expand(lang, (p for p in vocabulary.courtesy if " " not in p))),
        phrases={
            first: tuple(sorted(entries, key=lambda p: -len(p.rest)))
            for first, entries in index.items()
        },
        stems=tuple(
            (key, topic, level)
            for topic, entries in vocabulary.topic_stems.items()
            for stem, level in entries.items()
            for key in variants(lang, stem)
        ),
        suffixes=GERMAN_SUFFIXES if lang == "de" else (),
        scored=frozenset(valence) | frozenset(index) | contrast,
    )


def expand(lang: str, words: Iterable[str]) -> Iterator[str]:
    """Every spelling of every word in `words` (see `variants`)."""
    for word in words:
        yield from variants(lang, word)


def variants(lang: str, key: str) -> tuple[str, ...]:
    """`key` and the spellings people type for it without accents or umlauts."""
    if lang == "fr":
        folded = fold_accents(key)
        return (key,) if folded == key else (key, folded)
    if lang == "de":
        plain = key.replace("ß", "ss")
        spelled = plain.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
        return tuple(dict.fromkeys((key, plain, spelled)))
    return (key,)


def fold_accents(text: str) -> str:
    """ "très" -> "tres", "cœur" -> "coeur"."""
    decomposed = unicodedata.normalize("NFD", text.replace("œ", "oe"))
    return "".join(char for char in decomposed if not unicodedata.combining(char))
