"""The documentation stays true to the code."""

from __future__ import annotations

import re
from dataclasses import fields

from policy_service.config import Settings
from policy_service.ruleset.catalogue import ACTIONS, ALL_OPERATORS, FIELDS
from tests.conftest import ROOT


def test_rules_doc_lists_every_field_operator_and_action() -> None:
    text = (ROOT / "docs" / "rules.md").read_text()
    for field in FIELDS:
        assert f"`{field.name}`" in text, field.name
    for op in ALL_OPERATORS:
        assert f"`{op}`" in text, op
    for action in ACTIONS:
        assert action in text, action


def test_readme_shows_the_two_commands_and_every_setting() -> None:
    text = (ROOT / "README.md").read_text()
    assert "make run" in text and "make test" in text
    for name in fields(Settings):
        assert f"POLICY_{name.name.upper()}" in text, name.name


def test_the_rule_files_cite_only_documents_of_this_repository() -> None:
    for path in sorted((ROOT / "rules").glob("*.yaml")):
        for cited in re.findall(r"[\w./-]+\.md\b", path.read_text()):
            assert (ROOT / cited).is_file(), f"{path.name} cites {cited}, not in the repository"
