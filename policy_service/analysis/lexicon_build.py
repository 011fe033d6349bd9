"""Regenerates the vendored polarity lexicons in `data/` from the published wheels."""

from __future__ import annotations

import argparse
import io
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from xml.etree import ElementTree

DATA_DIR = Path(__file__).resolve().parent / "data"

# (wheel name prefix, member inside the wheel, output file, header lines)
SOURCES = (
    (
        "vaderSentiment-3.3.2",
        "vaderSentiment/vader_lexicon.txt",
        "vader_en.tsv",
        (
            "VADER sentiment lexicon (vaderSentiment 3.3.2, MIT, (c) 2016 C.J. Hutto).",
            "Converted: the token and its mean valence (-4..4); rating columns dropped.",
        ),
    ),
    (
        "textblob_fr-0.2.0",
        "textblob_fr/fr-sentiment.xml",
        "textblob_fr.tsv",
        (
            "French adjective polarities from textblob-fr 0.2.0 (MIT, (c) 2013 Steven Loria);",
            "the lexicon itself: Tom De Smedt, Walter Daelemans, fabelier.org, PDDL.",
            "Converted: lower-cased form and its mean polarity (-1..1); zero entries dropped.",
        ),
    ),
    (
        "textblob_de-0.4.3",
        "textblob_de/data/de-sentiment.xml",
        "textblob_de.tsv",
        (
            "German polarities from textblob-de 0.4.3 (MIT, (c) 2014-2019 Markus Killer);",
            "the lexicon itself: Klenner et al. (2010), XML by Markus Killer, Apache-2.0.",
            "Converted: lower-cased form and its mean polarity (-1..1); zero entries dropped.",
        ),
    ),
)


def vader_entries(text: str) -> Iterator[tuple[str, float]]:
    """(token, mean valence) for every line of `vader_lexicon.txt`."""
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and parts[0]:
            yield parts[0], float(parts[1])


def pattern_entries(xml: bytes) -> Iterator[tuple[str, float]]:
    """(lower-cased form, mean polarity) of a pattern-style sentiment XML file."""
    sums: dict[str, list[float]] = defaultdict(list)
    for word in ElementTree.fromstring(xml).iter("word"):
        form = (word.get("form") or "").strip().lower()
        if form:
            sums[form].append(float(word.get("polarity") or 0.0))
    for form, values in sums.items():
        mean = sum(values) / len(values)
        if mean:
            yield form, mean


def write_tsv(path: Path, header: Iterable[str], entries: Iterable[tuple[str, float]]) -> int:
    """Writes `# header` lines then `token<TAB>value`, sorted; returns the entry count."""
    rows = sorted({token: value for token, value in entries}.items())
    out = io.StringIO()
    for line in header:
        out.write(f"# {line}\n")
    out.write("# See LICENSES.md in this directory.\n")
    for token, value in rows:
        out.write(f"{token}\t{round(value, 3):g}\n")
    path.write_text(out.getvalue(), encoding="utf-8")
    return len(rows)


def build(wheel_dir: Path, out_dir: Path = DATA_DIR) -> dict[str, int]:
    """Converts every source found in `wheel_dir`; returns entries written per file."""
    written: dict[str, int] = {}
    for prefix, member, output, header in SOURCES:
        wheels = sorted(wheel_dir.glob(f"{prefix}-*.whl"))
        if not wheels:
            raise FileNotFoundError(f"no {prefix}-*.whl in {wheel_dir}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            raw = wheel.read(member)
        entries = (
            vader_entries(raw.decode("utf-8"))
            if output.startswith("vader")
            else pattern_entries(raw)
        )
        written[output] = write_tsv(out_dir / output, header, entries)
    return written


def main(argv: list[str] | None = None) -> None:
    """`python -m policy_service.analysis.lexicon_build WHEEL_DIR` after `pip download`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("wheel_dir", type=Path, help="directory holding the downloaded wheels")
    args = parser.parse_args(argv)
    for name, count in build(args.wheel_dir).items():
        print(f"{name}: {count} entries")


if __name__ == "__main__":
    main()
