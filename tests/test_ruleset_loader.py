"""Rule files: every problem reported as path:line:column with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_service.errors import RuleFileError
from policy_service.ruleset.loader import load_policy, load_ruleset

VALID = """\
ruleset: demo
rules:
  - id: praise
    priority: 10
    when: {signals.tone: {eq: positive}}
    then: {action: reply_to_fans}
  - id: default
    priority: 100
    then: {action: ignore}
"""


def problems(text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    with pytest.raises(RuleFileError) as caught:
        load_ruleset(data, "demo.yaml")
    return [str(p) for p in caught.value.problems]


def test_a_valid_file_loads() -> None:
    ruleset = load_ruleset(VALID.encode(), "demo.yaml")
    assert ruleset.name == "demo"
    assert [r.id for r in ruleset.rules] == ["praise", "default"]
    assert ruleset.rules[1].when is None


def test_unknown_field_has_line_column_and_hint() -> None:
    found = problems(VALID.replace("signals.tone", "signals.tonne"))
    assert found == [
        "demo.yaml:5:12: error: unknown field 'signals.tonne' (hint: did you mean 'signals.tone'?)"
    ]


def test_wrong_value_type() -> None:
    found = problems(
        VALID.replace("{signals.tone: {eq: positive}}", '{signals.severity: {gte: "high"}}')
    )
    assert len(found) == 1
    assert found[0].startswith("demo.yaml:5:")
    assert "signals.severity is an integer; 'high' is not" in found[0]


def test_enum_value_with_hint() -> None:
    found = problems(VALID.replace("eq: positive", "eq: postive"))
    assert "'postive' is not a value of signals.tone" in found[0]
    assert "did you mean 'positive'?" in found[0]


def test_unknown_action_and_operator() -> None:
    text = VALID.replace("reply_to_fans", "reply_to_fan").replace(
        "{eq: positive}", "{equals: positive}"
    )
    found = problems(text)
    assert any("unknown action 'reply_to_fan'" in p and "reply_to_fans" in p for p in found)
    assert any("unknown operator 'equals'" in p for p in found)


def test_operator_that_does_not_fit_the_field() -> None:
    found = problems(VALID.replace("{eq: positive}", "{gte: positive}"))
    assert "operator 'gte' does not apply to signals.tone (enum)" in found[0]


def test_duplicate_rule_ids() -> None:
    found = problems(VALID.replace("id: default", "id: praise"))
    assert any("duplicate rule id 'praise' (first at line 3)" in p for p in found)


def test_missing_default_rule() -> None:
    text = VALID.replace(
        "    then: {action: ignore}",
        "    when: {author.verified: {eq: true}}\n    then: {action: ignore}",
    )
    assert any("no default rule" in p for p in problems(text))


def test_every_problem_is_reported_not_just_the_first() -> None:
    text = VALID.replace("signals.tone", "signals.tonne").replace("priority: 100", "priority: high")
    assert len(problems(text)) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: [", "invalid YAML"),
        ("- just\n- a list\n", "a rule file must be a mapping"),
        ("", "empty rule file"),
        ("ruleset: x\nruleset: y\nrules: []\n", "appears twice"),
        ("ruleset: demo\nrules: []\n", "rules must be a non-empty list"),
        ("ruleset: 'bad name'\nrules: []\n", "ruleset must be 1-64 letters"),
        ("ruleset: demo\nrulez: []\n", "unknown key 'rulez' in a rule file"),
    ],
)
def test_broken_files(text: str, message: str) -> None:
    assert any(message in p for p in problems(text)), problems(text)


def test_anchor_and_alias_bomb_is_refused() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
    bomb += "c: [*b, *b, *b, *b, *b, *b, *b, *b]\n"
    found = problems(bomb)
    assert found == [
        "demo.yaml:1:4: error: YAML anchors and aliases are not allowed in rule files "
        "(this value is reused)"
    ]


def test_deeply_nested_condition() -> None:
    nested = "{not: " * 40 + "{signals.severity: {gte: 1}}" + "}" * 40
    found = problems(VALID.replace("{signals.tone: {eq: positive}}", nested))
    assert any("nested deeper than 32 levels" in p for p in found)


def test_huge_file() -> None:
    found = problems(VALID + "#" * (1024 * 1024))
    assert "the limit is 1048576" in found[0]


def test_non_utf8_bytes_point_at_the_line() -> None:
    data = VALID.encode().replace(b"priority: 100", b"priority: \xff100")
    assert problems(data) == ["demo.yaml:8:15: error: not UTF-8 text (byte 0xff)"]


def test_contains_any_refuses_blank_words() -> None:
    text = VALID.replace(
        "{signals.tone: {eq: positive}}", '{event.text: {contains_any: [refund, " "]}}'
    )
    assert any("contains_any takes words or phrases" in p for p in problems(text))


def test_between_bounds_and_ranges() -> None:
    found = problems(
        VALID.replace("{signals.tone: {eq: positive}}", "{signals.severity: {between: [4, 2]}}")
    )
    assert "between: low 4 is above high 2" in found[0]
    found = problems(
        VALID.replace("{signals.tone: {eq: positive}}", "{signals.severity: {gte: 9}}")
    )
    assert "outside signals.severity's range 0..5" in found[0]


def test_inline_test_naming_an_unknown_rule() -> None:
    text = VALID + "tests:\n  - name: t\n    expect: {rule: nope}\n"
    assert any("expect names rule 'nope'" in p for p in problems(text))


def test_directory_needs_a_default_ruleset(tmp_path: Path) -> None:
    (tmp_path / "demo.yaml").write_text(VALID)
    with pytest.raises(RuleFileError, match="no rule set is named 'default'"):
        load_policy(tmp_path)


def test_directory_revision_is_a_content_hash(tmp_path: Path) -> None:
    (tmp_path / "default.yaml").write_text(VALID.replace("demo", "default"))
    first = load_policy(tmp_path).revision
    assert load_policy(tmp_path).revision == first
    (tmp_path / "default.yaml").write_text(VALID.replace("demo", "default") + "# edited\n")
    assert load_policy(tmp_path).revision != first


def test_numbers_the_engine_cannot_read_are_refused() -> None:
    found = problems(
        VALID.replace("{signals.tone: {eq: positive}}", "{state.velocity: {gte: 0.00001}}")
    )
    assert "numbers are 0 or between 0.0001 and 10^15" in found[0]


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(refund", "missing )"),
        ("(a)\\1", "invalid escape sequence"),
        ("(?<=a)b", "invalid perl operator"),
    ],
)
def test_a_regex_that_does_not_compile(pattern: str, reason: str) -> None:
    text = VALID.replace(
        "{signals.tone: {eq: positive}}", f"{{event.text: {{matches: '{pattern}'}}}}"
    )
    found = problems(text)
    assert len(found) == 1
    assert "regular expression does not compile" in found[0] and reason in found[0], found


# -- safety rails ---------------------------------------------------------------

RAILS = """\
rails:
  escalations_per_hour: 3
  exempt_roles: [staff, partner]
  answer_author_once_within: 1h
"""


def test_rails_load_into_the_model() -> None:
    rails = load_ruleset((VALID + RAILS).encode(), "demo.yaml").rails
    assert rails is not None
    assert rails.escalations_per_hour == 3
    assert rails.exempt_roles == frozenset({"staff", "partner"})
    assert rails.answer_author_once_within_seconds == 3600
    assert load_ruleset(VALID.encode(), "demo.yaml").rails is None
    assert load_ruleset((VALID + "rails: {}\n").encode(), "demo.yaml").rails is None


@pytest.mark.parametrize(
    ("rails", "expected"),
    [
        (
            "rails: {escalation_per_hour: 3}",
            "demo.yaml:10:9: error: unknown key 'escalation_per_hour' in rails "
            "(hint: did you mean 'escalations_per_hour'?)",
        ),
        (
            "rails: {escalations_per_hour: 0}",
            "demo.yaml:10:31: error: escalations_per_hour must be a whole number 1..1000, not 0",
        ),
        (
            "rails: {escalations_per_hour: many}",
            "demo.yaml:10:31: error: escalations_per_hour must be a whole number 1..1000, "
            "not 'many'",
        ),
        (
            "rails: {exempt_roles: [staff, admin]}",
            "demo.yaml:10:31: error: unknown author role 'admin' "
            "(hint: expected one of: public, staff, partner)",
        ),
        (
            "rails: {exempt_roles: staff}",
            "demo.yaml:10:23: error: exempt_roles must be a non-empty list of: "
            "public, staff, partner",
        ),
        (
            "rails: {answer_author_once_within: soon}",
            "demo.yaml:10:36: error: expected a duration such as 15m, 2h or 1d, not 'soon'",
        ),
        (
            "rails: {answer_author_once_within: 0s}",
            "demo.yaml:10:36: error: answer_author_once_within must be longer than 0s",
        ),
        ("rails: [3]", "demo.yaml:10:8: error: rails must be a mapping"),
    ],
)
def test_rails_problems_have_their_position(rails: str, expected: str) -> None:
    assert problems(VALID + rails + "\n") == [expected]


def test_a_tests_given_rails_state_is_checked() -> None:
    tests = """\
tests:
  - name: given rails
    event: {text: hi}
    rails: {escalations: 3, author_answered: 10m}
    expect: {action: ignore}
  - name: bad count
    event: {text: hi}
    rails: {escalations_1h: -1}
    expect: {folded: false}
"""
    found = problems(VALID + tests)
    assert found == [
        "demo.yaml:13:13: error: unknown key 'escalations' in a test's rails "
        "(hint: did you mean 'escalations_1h'?)",
        "demo.yaml:17:29: error: escalations_1h must be a whole number 0..1000, not -1",
    ]
