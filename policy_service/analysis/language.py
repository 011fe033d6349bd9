"""Which of English, French or German a comment is in, told from its words alone."""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence

UNDETERMINED = "und"

# Letters that one of the languages uses and the others (almost) never do.
_HINT_CHARS = {
    "fr": "éèêàçùûôîœëÉÈÀÇ",
    "de": "äöüßÄÖÜ",
}
# Each hint letter present counts for half a function word, all of them
# together for two at most, so that a French name in a German sentence does
# not flip it.
_HINT_WEIGHT = 0.5
_HINT_CAP = 2.0


def normalize_code(code: str | None, supported: Container[str]) -> str | None:
    """The caller's language code reduced to its language ("fr-CA" is "fr").

    None when no usable code was given (then the language is detected);
    "und" for a language the analyzer does not know.
    """
    if not code or not isinstance(code, str):
        return None
    base = code.strip().replace("_", "-").split("-", 1)[0].lower()
    if not base:
        return None
    return base if base in supported else UNDETERMINED


class LanguageDetector:
    """Counts each language's function words; its vocabulary breaks ties and covers short texts."""

    def __init__(
        self,
        function_words: Mapping[str, frozenset[str]],
        vocabularies: Mapping[str, Container[str]],
    ) -> None:
        self._languages = tuple(function_words)
        # One lookup per word: the languages whose function word it is.
        index: dict[str, tuple[str, ...]] = {}
        for lang, words in function_words.items():
            for word in words:
                index[word] = (*index.get(word, ()), lang)
        self._index = index
        self._vocabularies = dict(vocabularies)

    def detect(self, words: Sequence[str], text: str) -> str:
        """The language of `text`, whose lower-cased words are `words`; "und" if unclear."""
        scores = dict.fromkeys(self._languages, 0.0)
        index = self._index
        for word in words:
            langs = index.get(word)
            if langs:
                for lang in langs:
                    scores[lang] += 1.0
        for lang, chars in _HINT_CHARS.items():
            if lang in scores:
                hits = sum(1 for char in chars if char in text)
                scores[lang] += min(_HINT_CAP, hits * _HINT_WEIGHT)
        best = _unique_best(scores)
        if best is not None:
            return best
        # No function word decides (a short or a mixed text): count the words
        # each language's vocabulary knows, among the tied languages.
        top = max(scores.values())
        tied = [lang for lang, score in scores.items() if score == top]
        known = {
            lang: float(sum(1 for word in words if word in self._vocabularies[lang]))
            for lang in tied
        }
        best = _unique_best(known)
        return best if best is not None else UNDETERMINED


def _unique_best(scores: Mapping[str, float]) -> str | None:
    """The language with the highest positive score, when no other has it."""
    best_lang: str | None = None
    best = 0.0
    tie = False
    for lang, score in scores.items():
        if score > best:
            best_lang, best, tie = lang, score, False
        elif score == best and score > 0:
            tie = True
    return None if tie else best_lang
