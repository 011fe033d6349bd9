"""Read rule files and validate every part of them, collecting all problems with positions."""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from policy_service.errors import Problem, RuleFileError
from policy_service.ruleset import catalogue, lint
from policy_service.ruleset.catalogue import AUTHOR_ROLES, BY_NAME, OPERATORS, Kind
from policy_service.ruleset.durations import parse_duration
from policy_service.ruleset.model import (
    AllOf,
    AnyOf,
    Comparison,
    Condition,
    CrisisLevels,
    Not,
    Outcome,
    Policy,
    Rails,
    Rule,
    RuleSet,
    RuleTest,
    Thresholds,
)
from policy_service.ruleset.patterns import compile_pattern
from policy_service.ruleset.source import LocDict, LocList, Pos, parse_yaml

ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,64}")
MAX_WORD_CHARS = 100
MAX_RULES = 1000
MAX_PRIORITY = 100_000
MAX_LIST_VALUES = 200
TOP_KEYS = ("ruleset", "description", "thresholds", "crisis", "rails", "rules", "tests")
RAILS_KEYS = ("escalations_per_hour", "exempt_roles", "answer_author_once_within")
MAX_ESCALATIONS_PER_HOUR = 1000
# The rails' state an inline test may give: escalations in the hour, and how long
# ago the author was last answered.
TEST_RAILS_KEYS = ("escalations_1h", "author_answered")
CRISIS_KEYS = ("watch", "crisis", "cool_down")
THRESHOLD_KEYS = ("multiplier_reach", "stale_after")
RULE_KEYS = ("id", "priority", "description", "when", "then")
THEN_KEYS = ("action", "route", "respond_within", "guidance")
TEST_KEYS = ("name", "event", "state", "rails", "after", "expect")
EXPECT_KEYS = ("action", "rule", "route", "matched_rules", "folded", "rail")
STATE_KEYS = tuple(
    sorted(name.removeprefix("state.") for name in BY_NAME if name.startswith("state."))
)
COMBINATORS = ("all", "any", "not")


def policy_revision(files: Iterable[tuple[str, bytes]]) -> str:
    """The content hash naming a set of rule files: same bytes, same revision."""
    digest = hashlib.sha256()
    for name, data in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()[:12]


ACCOUNTS_FILE = "accounts.yaml"


def rule_files(directory: Path) -> list[Path]:
    """The rule files of a directory: every *.yaml and *.yml directly inside it
    except the account mapping (accounts.yaml)."""
    return sorted(
        p
        for p in directory.iterdir()
        if p.suffix in (".yaml", ".yml") and p.is_file() and p.name != ACCOUNTS_FILE
    )


def policy_files(directory: Path) -> list[Path]:
    """Every file whose content makes the revision: the rule files and the account mapping."""
    mapping = directory / ACCOUNTS_FILE
    return rule_files(directory) + ([mapping] if mapping.is_file() else [])


def load_policy(directory: Path) -> Policy:
    """Load and validate every rule file of `directory` as one revision.

    Raises RuleFileError listing every problem of every file.
    """
    if not directory.is_dir():
        raise RuleFileError([Problem(str(directory), 1, 1, "rules directory does not exist")])
    paths = rule_files(directory)
    if not paths:
        raise RuleFileError([Problem(str(directory), 1, 1, "no *.yaml rule files found")])
    problems: list[Problem] = []
    rulesets: dict[str, RuleSet] = {}
    contents: list[tuple[str, bytes]] = []
    for path in paths:
        data = path.read_bytes()
        contents.append((path.name, data))
        try:
            ruleset = load_ruleset(data, str(path))
        except RuleFileError as exc:
            problems.extend(exc.problems)
            continue
        if ruleset.name in rulesets:
            problems.append(
                Problem(
                    str(path),
                    1,
                    1,
                    f"rule set {ruleset.name!r} is also defined in {rulesets[ruleset.name].path}",
                )
            )
        rulesets[ruleset.name] = ruleset
    default, accounts = "default", dict[str, str]()
    mapping = directory / ACCOUNTS_FILE
    if mapping.is_file():
        data = mapping.read_bytes()
        contents.append((mapping.name, data))
        try:
            default, accounts = load_accounts(data, str(mapping), set(rulesets))
        except RuleFileError as exc:
            problems.extend(exc.problems)
    if not problems and default not in rulesets:
        problems.append(Problem(str(directory), 1, 1, f"no rule set is named {default!r}"))
    if problems:
        raise RuleFileError(problems)
    return Policy(policy_revision(contents), rulesets, default, accounts)


def load_accounts(data: bytes, path: str, rulesets: set[str]) -> tuple[str, dict[str, str]]:
    """The account mapping: which rule set decides for which account.

    ```yaml
    default: default          # optional: the rule set of unlisted accounts
    accounts: {acme-air: airline, acme-shop: default}
    ```
    """
    document = parse_yaml(data, path)
    checker = _Checker(path)
    if document is None:
        document = LocDict()
        document.pos, document.key_pos, document.value_pos = Pos(1, 1), {}, {}
    if not checker.mapping(document, Pos(1, 1), "the account mapping", ("default", "accounts")):
        raise RuleFileError(checker.problems)
    assert isinstance(document, LocDict)

    def known(name: Any, pos: Pos) -> bool:
        if name in rulesets:
            return True
        hint = _suggest(str(name), rulesets) or f"loaded rule sets: {', '.join(sorted(rulesets))}"
        checker.error(pos, f"no rule set named {name!r}", hint)
        return False

    default = document.get("default", "default")
    if "default" in document:
        known(default, document.value_pos["default"])
    accounts: dict[str, str] = {}
    table = document.get("accounts", LocDict())
    if not isinstance(table, LocDict):
        checker.error(
            document.value_pos["accounts"], "accounts must be a mapping: account: rule set"
        )
    else:
        for account, name in table.items():
            if checker.ident(account, table.key_pos[account], "account") and known(
                name, table.value_pos[account]
            ):
                accounts[account] = str(name)
    if checker.problems:
        raise RuleFileError(checker.problems)
    return str(default), accounts


def load_ruleset(data: bytes, path: str) -> RuleSet:
    """Parse and validate one rule file. Raises RuleFileError with every problem found."""
    ruleset = parse_ruleset(data, path)
    found = lint.check(ruleset)
    if any(p.severity == "error" for p in found):
        raise RuleFileError(found)
    return dataclasses.replace(ruleset, warnings=tuple(found))


def parse_ruleset(data: bytes, path: str) -> RuleSet:
    """Parse one rule file and validate its form, without the checks on its meaning
    (impossible conditions, shadowed rules) that `load_ruleset` adds."""
    document = parse_yaml(data, path)
    if document is None:
        raise RuleFileError([Problem(path, 1, 1, "empty rule file")])
    checker = _Checker(path)
    ruleset = checker.ruleset(document)
    if checker.problems or ruleset is None:
        raise RuleFileError(checker.problems or [Problem(path, 1, 1, "invalid rule file")])
    return ruleset


def _suggest(word: str, choices: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


class _Checker:
    """Walks one parsed file, building the model and collecting every problem."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def error(self, pos: Pos, message: str, hint: str | None = None) -> None:
        self.problems.append(Problem(self.path, pos.line, pos.column, message, "error", hint))

    def mapping(self, value: Any, pos: Pos, what: str, allowed: tuple[str, ...]) -> bool:
        """Check that `value` is a mapping with only `allowed` keys; report the rest."""
        if not isinstance(value, LocDict):
            self.error(pos, f"{what} must be a mapping")
            return False
        for key in value:
            if key not in allowed:
                self.error(
                    value.key_pos[key],
                    f"unknown key {key!r} in {what}",
                    _suggest(key, allowed) or f"expected one of: {', '.join(allowed)}",
                )
        return True

    def ident(self, value: Any, pos: Pos, what: str) -> str | None:
        if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
            self.error(pos, f"{what} must be 1-64 letters, digits or ._:- (got {value!r})")
            return None
        return value

    # -- the file -----------------------------------------------------------

    def ruleset(self, doc: Any) -> RuleSet | None:
        if not self.mapping(doc, Pos(1, 1), "a rule file", TOP_KEYS):
            return None
        assert isinstance(doc, LocDict)
        name = None
        if "ruleset" not in doc:
            self.error(doc.pos, "missing key 'ruleset' (the rule set's name)")
        else:
            name = self.ident(doc["ruleset"], doc.value_pos["ruleset"], "ruleset")
        description = self.text(doc, "description", 2000)
        thresholds = self.thresholds(doc.get("thresholds"), doc.value_pos.get("thresholds"))
        crisis = self.crisis(doc.get("crisis"), doc.value_pos.get("crisis"))
        rails = self.rails(doc.get("rails"), doc.value_pos.get("rails"))
        rules = self.rules(doc)
        rule_ids = {r.id for r in rules}
        tests = self.tests(doc.get("tests"), doc.value_pos.get("tests", doc.pos), rule_ids)
        if name is None:
            return None
        return RuleSet(
            name,
            self.path,
            description,
            thresholds,
            tuple(rules),
            tuple(tests),
            crisis,
            rails=rails,
        )

    def text(self, container: LocDict, key: str, limit: int) -> str | None:
        if key not in container or container[key] is None:
            return None
        value = container[key]
        if not isinstance(value, str) or len(value) > limit:
            self.error(container.value_pos[key], f"{key} must be text of at most {limit} chars")
            return None
        return value.strip()

    def thresholds(self, value: Any, pos: Pos | None) -> Thresholds:
        defaults = Thresholds()
        if value is None:
            return defaults
        if not self.mapping(value, pos or Pos(1, 1), "thresholds", THRESHOLD_KEYS):
            return defaults
        assert isinstance(value, LocDict)
        reach = value.get("multiplier_reach", defaults.multiplier_reach)
        if isinstance(reach, bool) or not isinstance(reach, int) or reach < 0:
            self.error(value.value_pos["multiplier_reach"], "multiplier_reach must be a count >= 0")
            reach = defaults.multiplier_reach
        stale = defaults.stale_after_seconds
        if "stale_after" in value:
            stale = self.duration(value["stale_after"], value.value_pos["stale_after"]) or stale
        return Thresholds(multiplier_reach=reach, stale_after_seconds=stale)

    def crisis(self, value: Any, pos: Pos | None) -> CrisisLevels:
        defaults = CrisisLevels()
        if value is None:
            return defaults
        if not self.mapping(value, pos or Pos(1, 1), "crisis", CRISIS_KEYS):
            return defaults
        assert isinstance(value, LocDict)
        levels: dict[str, Condition | None] = {"watch": None, "crisis": None}
        for level in levels:
            if level not in value:
                continue
            condition = self.condition(value[level], value.value_pos[level], 0)
            if condition is None:
                continue
            outside = sorted({c.field for c in _comparisons(condition)} - catalogue.CRISIS_FIELDS)
            if outside:
                self.error(
                    value.value_pos[level],
                    f"crisis.{level} may use only the state windows "
                    f"(state.volume_1h, state.negative_share_1h, ...), not {', '.join(outside)}",
                )
                continue
            levels[level] = condition
        cool_down = defaults.cool_down_seconds
        if "cool_down" in value:
            cool_down = self.duration(value["cool_down"], value.value_pos["cool_down"]) or cool_down
        return CrisisLevels(levels["watch"], levels["crisis"], cool_down)

    def rails(self, value: Any, pos: Pos | None) -> Rails | None:
        if value is None:
            return None
        if not self.mapping(value, pos or Pos(1, 1), "rails", RAILS_KEYS):
            return None
        assert isinstance(value, LocDict)
        cap = None
        if value.get("escalations_per_hour") is not None:
            cap = self.count(
                value["escalations_per_hour"],
                value.value_pos["escalations_per_hour"],
                "escalations_per_hour",
                1,
                MAX_ESCALATIONS_PER_HOUR,
            )
        roles: frozenset[str] = frozenset()
        if value.get("exempt_roles") is not None:
            roles = self.roles(value["exempt_roles"], value.value_pos["exempt_roles"])
        within = None
        if value.get("answer_author_once_within") is not None:
            raw, raw_pos = (
                value["answer_author_once_within"],
                value.value_pos["answer_author_once_within"],
            )
            within = self.duration(raw, raw_pos)
            if within == 0:
                self.error(raw_pos, "answer_author_once_within must be longer than 0s")
                within = None
        if cap is None and not roles and within is None:
            return None  # every rail off: decisions pay nothing for them
        return Rails(cap, roles, within)

    def count(self, value: Any, pos: Pos, what: str, low: int, high: int) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.error(pos, f"{what} must be a whole number {low}..{high}, not {value!r}")
            return None
        return value

    def roles(self, value: Any, pos: Pos) -> frozenset[str]:
        if not isinstance(value, LocList) or not value:
            self.error(pos, f"exempt_roles must be a non-empty list of: {', '.join(AUTHOR_ROLES)}")
            return frozenset()
        roles: set[str] = set()
        for role, role_pos in zip(value, value.item_pos, strict=True):
            if role not in AUTHOR_ROLES:
                self.error(
                    role_pos,
                    f"unknown author role {role!r}",
                    _suggest(str(role), AUTHOR_ROLES)
                    or f"expected one of: {', '.join(AUTHOR_ROLES)}",
                )
            else:
                roles.add(str(role))
        return frozenset(roles)

    def test_rails(self, value: Any, pos: Pos) -> dict[str, int] | None:
        """A test's given rails state: {escalations_1h: n, author_answered: 10m (ago)}."""
        if not self.mapping(value, pos, "a test's rails", TEST_RAILS_KEYS):
            return None
        assert isinstance(value, LocDict)
        given: dict[str, int] = {}
        if "escalations_1h" in value:
            count = self.count(
                value["escalations_1h"],
                value.value_pos["escalations_1h"],
                "escalations_1h",
                0,
                MAX_ESCALATIONS_PER_HOUR,
            )
            if count is None:
                return None
            given["escalations_1h"] = count
        if "author_answered" in value:
            ago = self.duration(value["author_answered"], value.value_pos["author_answered"])
            if ago is None:
                return None
            given["author_answered"] = ago
        return given

    def duration(self, value: Any, pos: Pos) -> int | None:
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.error(pos, str(exc))
            return None

    # -- rules --------------------------------------------------------------

    def rules(self, doc: LocDict) -> list[Rule]:
        value = doc.get("rules")
        if not isinstance(value, LocList) or not value:
            self.error(doc.value_pos.get("rules", doc.pos), "rules must be a non-empty list")
            return []
        if len(value) > MAX_RULES:
            self.error(value.pos, f"more than {MAX_RULES} rules in one file")
            return []
        rules: list[Rule] = []
        seen: dict[str, Pos] = {}
        for order, (item, pos) in enumerate(zip(value, value.item_pos, strict=True)):
            # Duplicates are found on the written ids, even of rules with other errors.
            written = item.get("id") if isinstance(item, LocDict) else None
            if isinstance(written, str) and written in seen:
                first = seen[written]
                self.error(item.pos, f"duplicate rule id {written!r} (first at line {first.line})")
                continue
            if isinstance(written, str):
                seen[written] = item.pos
            rule = self.rule(item, pos, order)
            if rule is not None:
                rules.append(rule)
        if not any(isinstance(item, LocDict) and "when" not in item for item in value):
            self.error(
                value.pos,
                "no default rule: one rule without 'when' must catch every other comment",
            )
        return rules

    def rule(self, item: Any, pos: Pos, order: int) -> Rule | None:
        if not self.mapping(item, pos, "a rule", RULE_KEYS):
            return None
        assert isinstance(item, LocDict)
        ok = True
        rule_id = None
        if "id" not in item:
            self.error(item.pos, "rule without 'id'")
        else:
            rule_id = self.ident(item["id"], item.value_pos["id"], "rule id")
        priority = item.get("priority")
        if isinstance(priority, bool) or not isinstance(priority, int):
            self.error(
                item.value_pos.get("priority", item.pos),
                "priority must be a whole number (lower numbers win)",
            )
            ok = False
        elif not 0 <= priority <= MAX_PRIORITY:
            self.error(item.value_pos["priority"], f"priority must be 0..{MAX_PRIORITY}")
            ok = False
        when = None
        if "when" in item:
            when = self.condition(item["when"], item.value_pos["when"], 0)
            ok = ok and when is not None
        then = self.outcome(item.get("then"), item.value_pos.get("then", item.pos))
        description = self.text(item, "description", 2000)
        if not ok or rule_id is None or then is None:
            return None
        assert isinstance(priority, int)
        return Rule(rule_id, priority, when, then, description, order, item.pos)

    def outcome(self, value: Any, pos: Pos) -> Outcome | None:
        if value is None:
            self.error(pos, "rule without 'then' (the action it recommends)")
            return None
        if not self.mapping(value, pos, "then", THEN_KEYS):
            return None
        assert isinstance(value, LocDict)
        action = value.get("action")
        if action not in catalogue.ACTIONS:
            self.error(
                value.value_pos.get("action", value.pos),
                f"unknown action {action!r}",
                (_suggest(str(action), catalogue.ACTIONS) if action else None)
                or f"expected one of: {', '.join(catalogue.ACTIONS)}",
            )
            return None
        route = None
        if value.get("route") is not None:
            route = self.ident(value["route"], value.value_pos["route"], "route")
        within = None
        if value.get("respond_within") is not None:
            within = self.duration(value["respond_within"], value.value_pos["respond_within"])
        guidance = self.text(value, "guidance", 2000)
        return Outcome(str(action), route, within, guidance)

    # -- conditions ---------------------------------------------------------

    def condition(self, value: Any, pos: Pos, depth: int) -> Condition | None:
        if not isinstance(value, LocDict) or not value:
            self.error(
                pos,
                "a condition must be a mapping: {field: {operator: value}}, all, any or not",
            )
            return None
        keys = list(value)
        combinators = [k for k in keys if k in COMBINATORS]
        if combinators:
            if len(keys) > 1:
                self.error(
                    value.pos,
                    f"{combinators[0]!r} must be alone in its mapping; "
                    "wrap the other conditions in 'all'",
                )
                return None
            return self.combinator(keys[0], value, depth)
        items: list[Condition] = []
        ok = True
        for key in keys:
            for comparison in self.field_conditions(key, value) or [None]:
                if comparison is None:
                    ok = False
                else:
                    items.append(comparison)
        if not ok:
            return None
        return items[0] if len(items) == 1 else AllOf(tuple(items), value.pos)

    def combinator(self, key: str, value: LocDict, depth: int) -> Condition | None:
        inner = value[key]
        inner_pos = value.value_pos[key]
        if key == "not":
            item = self.condition(inner, inner_pos, depth + 1)
            if item is None:
                return None
            return Not(item, value.key_pos[key])
        if not isinstance(inner, LocList) or not inner:
            self.error(inner_pos, f"{key!r} takes a non-empty list of conditions")
            return None
        items = [
            self.condition(item, item_pos, depth + 1)
            for item, item_pos in zip(inner, inner.item_pos, strict=True)
        ]
        if any(i is None for i in items):
            return None
        built = tuple(i for i in items if i is not None)
        return (
            AllOf(built, value.key_pos[key]) if key == "all" else AnyOf(built, value.key_pos[key])
        )

    def field_conditions(self, name: str, container: LocDict) -> list[Comparison | None]:
        key_pos = container.key_pos[name]
        field = BY_NAME.get(name)
        if field is None:
            self.error(
                key_pos,
                f"unknown field {name!r}",
                _suggest(name, BY_NAME) or "see docs/rules.md for the field catalogue",
            )
            return [None]
        ops = container[name]
        ops_pos = container.value_pos[name]
        if not isinstance(ops, LocDict) or not ops:
            self.error(ops_pos, f"{name} needs an operator, e.g. {{{name}: {{eq: ...}}}}")
            return [None]
        allowed = OPERATORS[field.kind]
        result: list[Comparison | None] = []
        for op, operand in ops.items():
            op_pos = ops.key_pos[op]
            if op not in allowed:
                known = op in catalogue.ALL_OPERATORS
                self.error(
                    op_pos,
                    f"operator {op!r} does not apply to {name} ({field.kind.value})"
                    if known
                    else f"unknown operator {op!r}",
                    _suggest(op, allowed) or f"allowed for {name}: {', '.join(allowed)}",
                )
                result.append(None)
                continue
            checked = self.operand(field, op, operand, ops.value_pos[op])
            result.append(None if checked is _INVALID else Comparison(name, op, checked, op_pos))
        return result

    def operand(self, field: catalogue.Field, op: str, value: Any, pos: Pos) -> Any:
        if op == "matches":
            if not isinstance(value, str):
                self.error(pos, f"matches takes one regular expression, not {value!r}")
                return _INVALID
            try:
                compile_pattern(value)
            except ValueError as exc:
                self.error(pos, f"{value!r}: {exc}")
                return _INVALID
            return value
        if op in ("in", "not_in", "between", "contains_any"):
            if not isinstance(value, LocList) or not value:
                self.error(pos, f"{op} takes a non-empty list")
                return _INVALID
            if len(value) > MAX_LIST_VALUES:
                self.error(pos, f"{op} takes at most {MAX_LIST_VALUES} values")
                return _INVALID
            if op == "between" and len(value) != 2:
                self.error(pos, "between takes exactly two values: [low, high]")
                return _INVALID
            items = [
                self.scalar(field, op, v, p) for v, p in zip(value, value.item_pos, strict=True)
            ]
            if any(i is _INVALID for i in items):
                return _INVALID
            if op == "between" and items[0] > items[1]:
                self.error(pos, f"between: low {items[0]} is above high {items[1]}")
                return _INVALID
            return tuple(items)
        return self.scalar(field, op, value, pos)

    def scalar(self, field: catalogue.Field, op: str, value: Any, pos: Pos) -> Any:
        kind = field.kind
        if kind is Kind.MINUTES and isinstance(value, str):
            seconds = self.duration(value, pos)
            return _INVALID if seconds is None else seconds / 60
        if kind in (Kind.INTEGER, Kind.NUMBER, Kind.MINUTES):
            number_ok = isinstance(value, int | float) and not isinstance(value, bool)
            if kind is Kind.INTEGER and number_ok and isinstance(value, float):
                number_ok = value.is_integer()
            if not number_ok:
                article = "an" if kind.value[0] in "aeiou" else "a"
                self.error(pos, f"{field.name} is {article} {kind.value}; {value!r} is not")
                return _INVALID
            if isinstance(value, float) and not catalogue.engine_readable(value):
                self.error(pos, f"{value!r}: numbers are 0 or between 0.0001 and 10^15 in size")
                return _INVALID
            if (field.minimum is not None and value < field.minimum) or (
                field.maximum is not None and value > field.maximum
            ):
                self.error(
                    pos,
                    f"{value!r} is outside {field.name}'s range {field.minimum}..{field.maximum}",
                )
                return _INVALID
            return value
        if kind is Kind.BOOL:
            if not isinstance(value, bool):
                self.error(pos, f"{field.name} is true or false, not {value!r}")
                return _INVALID
            return value
        if not isinstance(value, str):
            self.error(pos, f"{field.name} takes text, not {value!r}")
            return _INVALID
        if kind in (Kind.ENUM, Kind.SET) and value not in field.values:
            self.error(
                pos,
                f"{value!r} is not a value of {field.name}",
                _suggest(value, field.values) or f"expected one of: {', '.join(field.values)}",
            )
            return _INVALID
        if kind is Kind.TEXT:
            folded = catalogue.fold_text(value)
            if not folded or len(value) > MAX_WORD_CHARS or not value.isprintable():
                self.error(
                    pos,
                    f"{value!r}: contains_any takes words or phrases of 1-{MAX_WORD_CHARS} "
                    "printable characters",
                )
                return _INVALID
            # Folded like the comment text (the engine folds it the same way).
            return folded
        if len(value) > 200:
            self.error(pos, "text values are limited to 200 characters")
            return _INVALID
        return value

    # -- inline tests -------------------------------------------------------

    def tests(self, value: Any, pos: Pos, rule_ids: set[str]) -> list[RuleTest]:
        if value is None:
            return []
        if not isinstance(value, LocList):
            self.error(pos, "tests must be a list")
            return []
        tests: list[RuleTest] = []
        for item, item_pos in zip(value, value.item_pos, strict=True):
            test = self.test(item, item_pos, rule_ids)
            if test is not None:
                tests.append(test)
        return tests

    def test(self, item: Any, pos: Pos, rule_ids: set[str]) -> RuleTest | None:
        if not self.mapping(item, pos, "a test", TEST_KEYS):
            return None
        assert isinstance(item, LocDict)
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            self.error(item.value_pos.get("name", item.pos), "a test needs a 'name'")
            return None
        event = item.get("event", LocDict())
        if not isinstance(event, LocDict):
            self.error(item.value_pos["event"], "a test's event must be a mapping")
            return None
        state = item.get("state", LocDict())
        if self.mapping(state, item.value_pos.get("state", item.pos), "a test's state", STATE_KEYS):
            assert isinstance(state, LocDict)
            for key, given in state.items():
                field = BY_NAME[f"state.{key}"]
                if self.scalar(field, "eq", given, state.value_pos[key]) is _INVALID:
                    return None
        else:
            return None
        rails: dict[str, int] = {}
        if "rails" in item:
            given = self.test_rails(item["rails"], item.value_pos["rails"])
            if given is None:
                return None
            rails = given
        after = 0
        if "after" in item:
            parsed = self.duration(item["after"], item.value_pos["after"])
            if parsed is None:
                return None
            after = parsed
        expect = item.get("expect")
        if not self.mapping(expect, item.value_pos.get("expect", item.pos), "expect", EXPECT_KEYS):
            return None
        assert isinstance(expect, LocDict)
        if not expect:
            self.error(expect.pos, "expect must name at least one of: " + ", ".join(EXPECT_KEYS))
            return None
        if "action" in expect and expect["action"] not in catalogue.ACTIONS:
            self.error(expect.value_pos["action"], f"unknown action {expect['action']!r}")
            return None
        named = [expect["rule"]] if "rule" in expect else []
        if "matched_rules" in expect:
            if not isinstance(expect["matched_rules"], LocList):
                self.error(expect.value_pos["matched_rules"], "matched_rules must be a list")
                return None
            named += list(expect["matched_rules"])
        for rule_id in named:
            if rule_id not in rule_ids:
                self.error(
                    expect.pos, f"expect names rule {rule_id!r}, which this file does not define"
                )
                return None
        return RuleTest(
            name.strip(), _plain(event), _plain(expect), _plain(state), after, pos, rails
        )


class _Invalid:
    """Marks an operand that failed validation (None is a legitimate value elsewhere)."""


_INVALID: Any = _Invalid()


def _comparisons(condition: Condition) -> list[Comparison]:
    if isinstance(condition, Comparison):
        return [condition]
    if isinstance(condition, Not):
        return _comparisons(condition.item)
    return [c for item in condition.items for c in _comparisons(item)]


def _plain(value: Any) -> Any:
    """Loc containers turned back into plain dicts and lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
