"""The command line: rule checks and inline tests, exit codes and messages."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from policy_service.cli import main
from tests.conftest import ROOT, RULES_DIR
from tests.test_ruleset_loader import VALID


def test_rules_check_passes_on_the_shipped_rules() -> None:
    result = CliRunner().invoke(main, ["rules", "check", str(RULES_DIR)])
    assert result.exit_code == 0, result.output
    assert "0 error(s)" in result.output


def test_rules_check_prints_every_problem_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(VALID.replace("signals.tone", "signals.tonne").replace("ignore", "ignor"))
    result = CliRunner().invoke(main, ["rules", "check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:5:12: error: unknown field 'signals.tonne'" in result.output
    assert f"{bad}:9:20: error: unknown action 'ignor'" in result.output
    assert "2 error(s)" in result.output


def test_rules_check_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["rules", "check", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_rules_test_runs_the_inline_tests() -> None:
    result = CliRunner().invoke(main, ["rules", "test", str(RULES_DIR)])
    assert result.exit_code == 0, result.output
    assert "0 failed" in result.output
    covered = re.search(r"coverage default: (\d+)/(\d+) rules", result.output)
    assert covered is not None and covered[1] == covered[2]


def test_rules_test_reports_a_failing_case(tmp_path: Path) -> None:
    text = VALID.replace("demo", "default") + (
        "tests:\n"
        "  - name: praise is answered\n"
        "    event: {signals: {tone: positive}}\n"
        "    expect: {action: ignore}\n"
    )
    (tmp_path / "default.yaml").write_text(text)
    result = CliRunner().invoke(main, ["rules", "test", str(tmp_path)])
    assert result.exit_code == 1
    assert "praise is answered FAILED" in result.output
    assert "expected action 'ignore', got 'reply_to_fans'" in result.output
    assert "untested: default" in result.output


def test_the_command_line_does_not_import_flask() -> None:
    code = "import sys, policy_service.cli; print('flask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_help_names_the_commands() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "rules"):
        assert command in result.output


def test_rules_check_output_matches_the_golden_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    golden = ROOT / "tests" / "golden"
    result = CliRunner().invoke(
        main,
        ["rules", "check", "tests/golden/broken.yaml", "tests/golden/meaning.yaml"],
        catch_exceptions=False,
    )
    assert result.exit_code == 1
    assert result.output == (golden / "rules-check.txt").read_text()
