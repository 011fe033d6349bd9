"""The shape of a hand-written per-language vocabulary, and the language-neutral emoji table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Severity a topic phrase implies when the comment is not praise: 2 for an
# everyday complaint (outage, refund), 4 for a possible safety, data or legal
# issue, 5 for an explicit one (injury, lawsuit).
POSSIBLE = 4
EXPLICIT = 5
COMPLAINT = 2


def phrases(spec: str) -> frozenset[str]:
    """Phrases separated by commas or new lines; words inside a phrase by single spaces."""
    return frozenset(_split(spec))


def weighted(spec: str) -> dict[str, float]:
    """`phrase=number` items separated by commas or new lines."""
    table: dict[str, float] = {}
    for item in _split(spec):
        phrase, _, number = item.rpartition("=")
        if not phrase:
            raise ValueError(f"no weight in {item!r}")
        table[" ".join(phrase.split())] = float(number)
    return table


def leveled(spec: str, level: int) -> dict[str, int]:
    """The phrases of `spec`, each with the severity `level`."""
    return dict.fromkeys(_split(spec), level)


def _split(spec: str) -> list[str]:
    items = (" ".join(part.split()) for line in spec.splitlines() for part in line.split(","))
    return [item for item in items if item]


@dataclass(frozen=True)
class Vocabulary:
    """Everything one language contributes beyond its polarity lexicon.

    Phrases are lower-case words joined by single spaces, written as the
    tokenizer yields them: "n't" is glued ("doesnt"), apostrophes split
    ("j aime"), accents are optional (a folded copy is added at load).
    Valences use VADER's scale (-4 .. 4).
    """

    lang: str
    # Words that mark the language (articles, pronouns, auxiliaries): never
    # words shared with another of the three languages.
    function_words: frozenset[str]
    # Hand-written valences: they override the vendored lexicon's value.
    valences: Mapping[str, float]
    negators: frozenset[str]
    # Added to a following word's |valence| (negative: a dampener).
    boosters: Mapping[str, float]
    # "but": what follows weighs more than what precedes.
    contrast: frozenset[str]
    # Complaint vocabulary: negative weight added where it appears. Weak
    # entries (a weight of -0.5 or less in size: "hours", "again") only count
    # next to other negative evidence.
    complaints: Mapping[str, float]
    # Courtesy ("thanks", "please") that says nothing positive in a complaint.
    courtesy: frozenset[str]
    insults: frozenset[str]
    profanity: frozenset[str]
    threats: frozenset[str]
    hate: frozenset[str]
    suggestions: frozenset[str]
    problem_reports: frozenset[str]
    topics: Mapping[str, Mapping[str, int]]
    # Stems looked for inside words (German compounds, inflections).
    topic_stems: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    # Post-positioned negation ("ich mag das nicht"): negators that also negate
    # the sentiment word just before them.
    post_negators: frozenset[str] = frozenset()


# Emoji and emoticons, for every language. Valences on VADER's scale; the
# angry ones also raise arousal.
EMOJI: dict[str, float] = weighted(
    """
    😀=2.2, 😃=2.2, 😄=2.4, 😁=2.2, 😆=2.0, 😅=0.8, 🤣=1.8, 😂=1.2, 🙂=1.2, 😊=2.4,
    😇=2.0, 🥰=3.0, 😍=3.0, 🤩=3.0, 😘=2.4, 😗=1.4, ☺=2.0, 😚=2.0, 😙=1.6, 😋=2.0,
    😛=1.2, 😜=1.2, 🤪=1.0, 😝=1.0, 🤗=2.2, 😎=1.8, 🥳=2.8, 👍=1.8, 👏=2.0, 🙌=2.2,
    💪=1.6, 🙏=1.0, 🤝=1.4, ✌=1.2, 👌=1.6, ❤=2.8, ♥=2.6, 💕=2.8, 💖=2.8, 💗=2.6,
    💓=2.6, 💞=2.6, 💘=2.4, 💝=2.4, 💙=2.4, 💚=2.4, 💛=2.4, 💜=2.4, 🧡=2.4, 🖤=1.0,
    😻=2.6, ✨=1.4, 🌟=1.8, ⭐=1.4, 🎉=2.4, 🎊=2.2, 🥂=2.0, 🍾=2.0, 🏆=2.0, 💯=1.8,
    🔥=1.0, 🌈=1.4, ☀=1.2, 🌞=1.6, 🌸=1.2, 🌹=1.6, 💐=1.8, 🎁=1.6, ✅=1.0, 👋=0.6,
    😐=-0.4, 😑=-0.8, 😶=-0.4, 🙄=-1.6, 😏=-0.6, 😒=-1.8, 😬=-0.8, 😔=-1.6, 😪=-1.2,
    😴=-0.6, 😷=-1.0, 🤒=-1.4, 🤕=-1.8, 🤢=-2.4, 🤮=-2.8, 😵=-1.2, 🥴=-1.0, 😕=-1.4,
    😟=-1.6, 🙁=-1.6, ☹=-1.8, 😮=-0.4, 😯=-0.4, 😲=-0.6, 😳=-0.8, 🥺=-0.6, 😦=-1.4,
    😧=-1.6, 😨=-2.0, 😰=-2.0, 😥=-1.6, 😢=-2.2, 😭=-2.2, 😱=-2.2, 😖=-2.0, 😣=-1.8,
    😞=-2.0, 😓=-1.6, 😩=-2.2, 😫=-2.2, 🥱=-0.8, 😤=-2.2, 😡=-3.0, 😠=-2.8, 🤬=-3.4,
    👿=-2.8, 😈=-0.8, 💀=-1.0, ☠=-1.8, 💩=-2.0, 🤡=-1.8, 👎=-2.2, 🖕=-3.2, 💔=-2.4,
    💢=-2.0, 🤦=-1.8, 🤷=-0.6, ⚠=-1.2, ❌=-1.4, 🚫=-1.4, 🆘=-1.8, 😾=-2.2, 😿=-2.0
    """
)

# Emoticons written with ASCII; the vendored English lexicon has more, these
# are the common ones every language shares.
EMOTICONS: dict[str, float] = weighted(
    """
    :)=2.0, :-)=2.0, :]=1.8, =)=2.0, :d=2.3, :-d=2.3, ;)=1.6, ;-)=1.6, :p=1.2,
    :-p=1.2, <3=2.6, ^^=1.6, ^_^=1.8, :*=1.8, :3=1.4, :(=-1.9, :-(=-1.9, =(=-1.9,
    :'(=-2.2, :/=-1.2, :-/=-1.2, :\\=-1.2, :|=-0.6, :-|=-0.6, </3=-2.4, >:(=-2.8,
    :s=-1.2, :o=-0.4, -_-=-1.0, ;(=-1.8, -.-=-1.4, (:=2.0, (-:=2.0, xd=1.8
    """
)

# Emoji that mean anger: they raise arousal even when the words are calm.
ANGRY_EMOJI = frozenset("😤😡😠🤬👿💢🖕👎🙄😒🤮")
