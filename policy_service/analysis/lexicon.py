"""The built-in offline analyzer: every signal of a comment from per-language lexicons."""

from __future__ import annotations

import math
import re
from collections.abc import Container, Mapping

from policy_service.analysis.base import LANGUAGES, Analysis
from policy_service.analysis.language import UNDETERMINED, normalize_code
from policy_service.analysis.lexicon_tables import Phrase, Tables, load
from policy_service.analysis.lexicon_vocab import ANGRY_EMOJI, EMOJI, EXPLICIT, POSSIBLE

# Tuned on the XLM-T train splits (en, fr, de) and on the airline tweets to
# Southwest, United and Virgin America only; the figures in docs/analysis.md
# are measured on the XLM-T validation splits and on the tweets to American,
# Delta and US Airways, which were never used to tune anything.
#
# (positive at or above, negative at or below) on the polarity in [-1, 1].
# Any clear negative counts: a complaint often carries no strong word, while
# praise needs more than a polite "ok" to be positive.
THRESHOLDS = {"en": (0.35, -0.01), "fr": (0.15, -0.01), "de": (0.25, -0.01)}

# Scoring in the manner of VADER (Hutto & Gilbert, 2014), whose constants
# these are: a negated word keeps 0.74 of its weight with the opposite sign,
# a capitalized word in a mixed-case text gains 0.733, each "!" 0.292, and
# the sum s becomes s / sqrt(s² + 15).
_NEGATION = -0.74
_CAPS_BOOST = 0.733
_BOOST_DECAY = (1.0, 0.95, 0.9)
_EXCLAMATION = 0.292
_QUESTION = 0.18
_BEFORE_CONTRAST = 0.5
_AFTER_CONTRAST = 1.5
_ALPHA = 15.0

# Complaint words weaker than this ("hours", "again") need other negative
# evidence in the comment to count.
_WEAK_COMPLAINT = -0.5

# Severity of a negative comment: strong from this polarity or arousal on.
_STRONG = -0.75
_CLEAR = -0.4
_HIGH_AROUSAL = 0.6

# Enough text to judge a comment; past it, time would grow for nothing.
MAX_CHARS = 20_000

_BREAK = ""  # a clause end in the word list: negation and phrases stop there

# Every pattern here runs in linear time: character classes, fixed-length
# groups, no nested quantifiers (ENGINE-NOTES.md, "Regular expressions").
_ESCAPES = re.compile(r"\\u([0-9a-fA-F]{4})")
# Written with chr(): the native build (mypyc) takes no surrogates in literals.
_SURROGATES = re.compile("[" + chr(0xD800) + "-" + chr(0xDFFF) + "]")
# C0/C1 controls (tab, newline and carriage return kept), zero-width and
# bidirectional formatting characters.
_CONTROLS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]"
)
_LINKS = re.compile(r"https?://\S*|www\.\S*|@\w+")
# A word (letters and digits), an ASCII emoticon (":-)", ";(", "<3"), or a run
# of anything else (punctuation, emoji, "^_^"). Words come first, as the most
# frequent: no emoticon starts with a letter or digit, so the order of these
# two does not change what is found.
_TOKENS = re.compile(r"[^\W_]+|[:;=]['-]?[()\[\]dDpPoO/\\|*3sS](?!\w)|<3|(?:[^\w\s]|_)+")
# The same tokens for a text that is all ASCII, with the classes spelled out:
# \w and \s of a str pattern look every character up in the Unicode tables,
# which makes the general expression about twice as slow on such texts.
# In ASCII, \w is [A-Za-z0-9_] and \s is what str.isspace() says (tested).
_TOKENS_ASCII = re.compile(
    r"[A-Za-z0-9]+|[:;=]['-]?[()\[\]dDpPoO/\\|*3sS](?![A-Za-z0-9_])|<3"
    r"|[^A-Za-z0-9\t\n\x0b\x0c\r\x1c-\x1f ]+"
)
# A letter written three times or more ("sooo", "daaanke").
_ELONGATED = re.compile(r"([^\W\d_])\1\1")
_RUN_OF_THREE = re.compile(r"([^\W\d_])\1{2,}")
# Where negation, boosters and phrases stop: sentence ends and clause marks.
_CLAUSE_ENDS = frozenset(".!?;,:")
# Marks that often end a word in a comment ("time.", "why?"): see _pieces.
_WORD_ENDS = frozenset(".,!?")
_ENTITIES = (("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#39;", "'"))


class _Tokens:
    """A comment cut into lower-case words (emoji and emoticons included, `_BREAK`
    at clause ends), with what tokenizing counted on the way."""

    # Plain classes with a written `__init__`, which mypyc compiles (a
    # dataclass's generated one is left to the interpreter): one per comment.
    def __init__(self) -> None:
        self.words: list[str] = []
        self.caps: set[int] = set()  # positions of the words written in capitals
        self.real = 0  # words made of letters or digits
        self.shouted = 0  # of which in capitals
        self.exclamations = 0
        self.questions = 0
        self.angry = 0  # angry emoji


class _Found:
    """What one pass over a comment found; local to one call."""

    def __init__(self) -> None:
        self.complaint = 0
        self.insult = 0
        self.profanity = 0
        self.threat = False
        self.hate = False
        self.suggestion = False
        self.problem = False


class LexiconAnalyzer:
    """Tone, severity, constructiveness, arousal and crisis topics in English, French and German.

    Offline and deterministic. The tables are loaded once per process and
    only read afterwards, so one instance serves any number of threads.
    """

    name = "lexicon"
    version = "1"

    def __init__(self) -> None:
        model = load()
        self._tables = model.tables
        self._detector = model.detector
        self._emoticons = model.emoticons
        self._known = model.known

    def analyze(self, text: str, lang: str | None = None) -> Analysis:
        """All signals of `text`; `lang` is the caller's language code when known."""
        clean = _clean(text)
        tokens = _tokenize(clean, self._emoticons)
        if _elongated(clean):
            tokens.words = [_squeeze(word, self._known) for word in tokens.words]

        code = normalize_code(lang, LANGUAGES)
        detected = self._detector.detect(tokens.words, clean) if code is None else code
        # A language without tables gets the English ones: emoji, emoticons and
        # English loan words ("bug", "fail") are what most comments share.
        tables = self._tables.get(detected) or self._tables["en"]

        found = _Found()
        topics: dict[str, int] = {}
        score = _score(tables, tokens, found, topics)
        if tables.stems:
            joined = " ".join(tokens.words)
            for stem, topic, level in tables.stems:
                if stem in joined and topics.get(topic, 0) < level:
                    topics[topic] = level
        if score:
            emphasis = min(tokens.exclamations, 4) * _EXCLAMATION
            if tokens.questions > 1:
                emphasis += min(tokens.questions, 3) * _QUESTION
            score += emphasis if score > 0 else -emphasis
        polarity = score / math.sqrt(score * score + _ALPHA)

        arousal = _arousal(tokens, found, polarity)
        tone = _tone(THRESHOLDS[tables.lang], polarity, found)
        return Analysis(
            lang=detected if detected in LANGUAGES else UNDETERMINED,
            tone=tone,
            severity=_severity(tone, polarity, arousal, found, topics),
            constructive=not (found.threat or found.hate)
            and (found.suggestion or (found.problem and tone != "positive")),
            arousal=arousal,
            topics=tuple(sorted(topics)),
            polarity=round(polarity, 4),
        )


def _clean(text: str) -> str:
    """The text without lone surrogates, control characters, links and @mentions."""
    if not isinstance(text, str) or not text:
        return ""
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS]
    # Each step below first asks a cheap question of the whole text (in C)
    # and skips its regular expression when it cannot match: most comments
    # are printable and have no escapes, surrogates or links.
    if "\\u" in text:
        # JSON escapes left by an upstream that encoded twice ("can\u2019t").
        text = _ESCAPES.sub(lambda match: chr(int(match.group(1), 16)), text)
    if not text.isascii() and _SURROGATES.search(text):
        # Pairs become their character, lone halves U+FFFD.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    if not text.isprintable():
        # Every character _CONTROLS matches is one isprintable() refuses.
        text = _CONTROLS.sub(" ", text)
    if "&" in text:
        for entity, char in _ENTITIES:
            text = text.replace(entity, char)
    # Handles and links name the brand ("@united", which VADER scores as
    # positive) and say nothing of the tone: complaints would look friendlier.
    if "@" in text or "http" in text or "www." in text:
        text = _LINKS.sub(" ", text)
    return text


def _tokenize(text: str, emoticons: Mapping[str, float]) -> _Tokens:
    """The words, emoji and emoticons of `text`, and its "!", "?" and angry emoji."""
    tokens = _Tokens()
    words = tokens.words
    caps = tokens.caps
    # This loop runs once per word of every comment: the common case (a word)
    # does as little as it can, and the counts are derived once at the end.
    add_word = words.append
    others = 0  # emoji, emoticons and clause breaks among the words
    ascii_only = text.isascii()
    for token in _pieces(text, _TOKENS_ASCII if ascii_only else _TOKENS):
        if token[0].isalnum():
            low = token.lower()
            # "don't" is split at the apostrophe: glue it back into "dont".
            if low == "t" and words and words[-1].endswith("n"):
                words[-1] += "t"
                continue
            # Most words are in lower case already: compared before asked. Only
            # in ASCII does every capital have a lower case ("𝐖𝐎𝐑𝐒𝐓" has none).
            if len(token) > 1 and (token != low or not ascii_only) and token.isupper():
                caps.add(len(words))
            add_word(low)
            continue
        low = token.lower()
        if low in emoticons:
            add_word(low)
            others += 1
            continue
        ends = False
        for char in token:
            if char in _CLAUSE_ENDS:
                ends = True
                if char == "!":
                    tokens.exclamations += 1
                elif char == "?":
                    tokens.questions += 1
            elif char in EMOJI:
                add_word(char)
                others += 1
                if char in ANGRY_EMOJI:
                    tokens.angry += 1
        if ends and words and words[-1] != _BREAK:
            add_word(_BREAK)
            others += 1
    tokens.real = len(words) - others
    tokens.shouted = len(caps)
    return tokens


def _pieces(text: str, pattern: re.Pattern[str]) -> list[str]:
    """`pattern.findall(text)`, in about half the time.

    No token spans white space (the classes of both token expressions exclude
    it, and white space is all that findall skips), so the text is cut at it
    first, in C; a piece of letters and digits only is one word, and so is a
    word followed by one of ".,!?" (no emoticon starts with them). Only the
    rest goes through the expression, piece by piece. Tested against findall.
    """
    found: list[str] = []
    add = found.append
    for piece in text.split():
        if piece.isalnum():
            add(piece)
        elif piece[-1] in _WORD_ENDS and piece[:-1].isalnum():
            add(piece[:-1])
            add(piece[-1])
        else:
            found.extend(pattern.findall(piece))
    return found


def _elongated(text: str) -> bool:
    """Whether a letter stands three times in a row: `_ELONGATED.search(text)`, faster.

    In an all-ASCII text the letters are [A-Za-z]: one compiled pass over the
    code points finds a run of three about ten times faster than the
    expression engine, which tries a match at every letter.
    """
    if not text.isascii():
        return _ELONGATED.search(text) is not None
    previous = 0
    run = 0
    for i in range(len(text)):
        code = ord(text[i])
        if code != previous:
            previous = code
            run = 1
            continue
        run += 1
        if run == 3 and (65 <= code <= 90 or 97 <= code <= 122):
            return True
    return False


def _squeeze(word: str, known: Container[str]) -> str:
    """An elongated word as usually written: "goood" -> "good", "sooo" -> "so"."""
    if not _ELONGATED.search(word):
        return word
    double = _RUN_OF_THREE.sub(r"\1\1", word)
    if double in known:
        return double
    return _RUN_OF_THREE.sub(r"\1", word)


def _score(tables: Tables, tokens: _Tokens, found: _Found, topics: dict[str, int]) -> float:
    """The summed valence of the words; fills `found` and `topics` on the way."""
    words, caps = tokens.words, tokens.caps
    valence = tables.valence
    phrases = tables.phrases
    negators = tables.negators
    boosters = tables.boosters
    # Mostly in capitals: no single word stands out.
    shouting = tokens.shouted * 2 > tokens.real
    items: list[tuple[int, float, bool]] = []  # (position, valence, courtesy)
    complaint = weak = 0.0
    weak_count = 0
    covered = -1  # the last position inside a phrase that had its own valence
    complained = -1  # the last position inside a complaint phrase counted
    contrast_at = -1
    scored = tables.scored
    suffixes = tables.suffixes
    n = len(words)
    for i, word in enumerate(words):
        if word not in scored and not (suffixes and _inflected(valence, word, suffixes)):
            continue  # no valence, no phrase, no contrast (clause breaks included)
        phrase_valence: float | None = None
        end = i
        courtesy = negative = False
        for phrase in phrases.get(word, ()):
            rest = phrase.rest
            k = len(rest)
            # The next word first: most phrases starting with a word fail there.
            if k and (
                i + 1 == n or words[i + 1] != rest[0] or tuple(words[i + 1 : i + 1 + k]) != rest
            ):
                continue
            if phrase.complaint and i > complained:
                # The longest complaint phrase counts, not also the ones in it
                # ("immer noch nicht" and "nicht angekommen").
                complained = i + k
                if phrase.negative or not _negated(words, i, negators):  # not "no delay"
                    if phrase.complaint >= _WEAK_COMPLAINT:
                        weak += phrase.complaint
                        weak_count += 1
                    else:
                        complaint += phrase.complaint
                        found.complaint += 1
            if phrase.valence is not None and phrase_valence is None and i > covered:
                phrase_valence, end = phrase.valence, i + k
                courtesy, negative = phrase.courtesy, phrase.negative
            _note(phrase, found, topics)
        if i <= covered:
            continue
        if phrase_valence is not None:
            value = phrase_valence
            covered = end
        else:
            if contrast_at < 0 and word in tables.contrast:
                contrast_at = i
            known = valence.get(word)
            if known is None and suffixes:
                known = _inflected(valence, word, suffixes)
            if not known:
                continue
            value = known
            courtesy = word in tables.courtesy
        sign = 1.0 if value > 0 else -1.0
        if not shouting and i in caps:
            value += sign * _CAPS_BOOST
        for back in range(1, 4):
            j = i - back
            if j < 0 or words[j] == _BREAK:
                break
            boost = boosters.get(words[j])
            if boost:
                value += sign * boost * _BOOST_DECAY[back - 1]
        if not negative and (
            _negated(words, i, negators) or _post_negated(words, end, tables.post_negators)
        ):
            value *= _NEGATION
        items.append((i, value, courtesy))

    if weak_count and (complaint or any(value < 0 for _, value, _ in items)):
        complaint += weak
        found.complaint += weak_count
    total = complaint
    for position, value, polite in items:
        if polite and value > 0 and found.complaint:
            # "thanks for the 3 hour delay": courtesy in a complaint is no praise.
            continue
        if contrast_at >= 0:
            value *= _AFTER_CONTRAST if position > contrast_at else _BEFORE_CONTRAST
        total += value
    return total


def _note(phrase: Phrase, found: _Found, topics: dict[str, int]) -> None:
    """Records the marks of a phrase found in the comment."""
    if phrase.insult:
        found.insult += 1
    if phrase.profanity:
        found.profanity += 1
    found.threat = found.threat or phrase.threat
    found.hate = found.hate or phrase.hate
    found.suggestion = found.suggestion or phrase.suggestion
    found.problem = found.problem or phrase.problem
    for topic, level in phrase.topics:
        if topics.get(topic, 0) < level:
            topics[topic] = level


def _negated(words: list[str], i: int, negators: frozenset[str]) -> bool:
    """Whether one of the three words before position `i` (same sentence) negates it."""
    for j in range(i - 1, max(-1, i - 4), -1):
        word = words[j]
        if word == _BREAK:
            return False
        if word in negators:
            return True
    return False


def _post_negated(words: list[str], end: int, post_negators: frozenset[str]) -> bool:
    """Clause-final negation: in "ich liebe dich nicht" the last word negates "liebe"."""
    if not post_negators:
        return False
    n = len(words)
    for j in range(end + 1, min(n, end + 3)):
        word = words[j]
        if word == _BREAK:
            return False
        if word in post_negators:
            return j + 1 >= n or words[j + 1] == _BREAK
    return False


def _inflected(valence: Mapping[str, float], word: str, suffixes: tuple[str, ...]) -> float | None:
    """The valence of an inflected form: "schlechten" has that of "schlecht"."""
    for suffix in suffixes:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            value = valence.get(word[: -len(suffix)])
            if value is not None:
                return value
    return None


def _arousal(tokens: _Tokens, found: _Found, polarity: float) -> float:
    """0 calm ... 1 shouting: capitals, "!", angry emoji, insults, strong wording."""
    real, shouted = tokens.real, tokens.shouted
    parts = (
        # The share of words in capitals, discounted when a single word (an
        # acronym such as "TSA") is.
        0.8 * (shouted / real) * min(1.0, shouted / 2) if real else 0.0,
        0.5 * min(1.0, tokens.exclamations / 4),
        0.6 * min(1.0, tokens.angry / 2),
        0.7 * min(1.0, found.insult / 2 + found.profanity / 3),
        1.0 if found.threat or found.hate else 0.0,
        0.3 * abs(polarity),
    )
    calm = 1.0
    for part in parts:
        calm *= 1.0 - part
    return round(1.0 - calm, 3)


def _tone(thresholds: tuple[float, float], polarity: float, found: _Found) -> str:
    positive, negative = thresholds
    if found.threat or found.hate:
        return "hostile"
    if polarity >= positive:
        return "positive"
    if found.insult:
        return "hostile"
    return "negative" if polarity <= negative else "neutral"


def _severity(
    tone: str, polarity: float, arousal: float, found: _Found, topics: Mapping[str, int]
) -> int:
    if found.threat or found.hate:
        return 5
    if tone == "positive":
        # Praise that names a topic ("great safety record") raises nothing.
        return 0
    if tone == "hostile":
        severity = 3
    elif tone == "negative":
        if polarity <= _STRONG or arousal >= _HIGH_AROUSAL or found.profanity:
            severity = 3
        elif polarity <= _CLEAR or found.problem:
            severity = 2
        else:
            severity = 1
    else:
        severity = 1 if found.complaint or found.problem else 0
    for level in topics.values():
        if tone == "neutral":
            # Said without complaint, only an explicit report is a possible issue.
            level = POSSIBLE if level >= EXPLICIT else min(level, 1)
        severity = max(severity, level)
    return severity
