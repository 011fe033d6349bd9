"""The `policy-service` command line (click); it never imports Flask."""

from __future__ import annotations

import logging
import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from policy_service import __version__
from policy_service.api.auth import registry_from_settings
from policy_service.cli_analyzer import analyzer
from policy_service.cli_events import events
from policy_service.cli_replay import replay
from policy_service.config import Settings
from policy_service.errors import ConfigError, PolicyError, RuleFileError
from policy_service.loaded_policy import load
from policy_service.logs import install_json_handler
from policy_service.ruleset.loader import load_ruleset, rule_files
from policy_service.ruletests import run_tests

log = logging.getLogger(__name__)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="policy-service")
def main() -> None:
    """Decide what to do with social-media comments, and why (ignore, acknowledge,
    reply to fans, escalate), from declarative rule files."""


@main.command()
@click.option("--workers", type=int, default=None, help="Worker processes (POLICY_WORKERS).")
def serve(workers: int | None) -> None:
    """Serve the REST API under gunicorn.

    Settings come from the environment: POLICY_HOST (127.0.0.1), POLICY_PORT
    (8080), POLICY_RULES_DIR (rules), POLICY_STATE_URL (memory://,
    redis://host:port/db or redis+cluster://host:port[,host:port...]),
    POLICY_WORKERS (0: one per core with Redis, one with the memory store,
    which refuses more), POLICY_LOG_LEVEL (info), POLICY_RELOAD_INTERVAL
    (2 seconds; 0 turns the rules watcher off), POLICY_SHADOW_RULES_DIR (a
    candidate policy evaluated beside the active one), POLICY_TOKENS_FILE
    (bearer tokens and scopes; required unless POLICY_DEV_NO_AUTH=true),
    POLICY_METRICS_PUBLIC (true), POLICY_RATE_LIMIT_TOKEN (60000 requests per
    token) / _ACCOUNT (6000 new events per account) per POLICY_RATE_LIMIT_WINDOW
    (60 seconds; 0 turns a limit off), POLICY_ANALYZER (lexicon | none),
    POLICY_ANALYZER_MODEL, POLICY_CAPTURE_URL / _STREAM / _MAXLEN. See README.
    """
    try:
        settings = Settings.from_env()
        # The check below logs (the access-control warning): JSON like every
        # later line of the service.
        try:
            install_json_handler(settings.log_level)
        except ValueError:
            raise ConfigError(
                f"POLICY_LOG_LEVEL must be debug, info, warning, error or critical, "
                f"not {settings.log_level!r}"
            ) from None
        # A misspelt setting would otherwise go unnoticed: its default applies.
        for name in Settings.unknown_names():
            log.warning("%s is not a setting of the service; it is ignored", name)
        # Checked here too so that a missing or broken tokens file is one clear
        # line, not a worker that fails to boot.
        registry_from_settings(settings.tokens_file, settings.dev_no_auth, settings.rules_dir)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    count = workers if workers is not None else settings.workers
    if settings.state_url.startswith("memory://"):
        # The memory store lives in one process: several workers would each
        # keep their own windows and duplicates.
        if count > 1:
            raise click.ClickException("the memory store serves one worker; use Redis for more")
        count = 1
    elif count == 0:
        # One per core: on 2 cores, 2 workers beat 1 and 3 (bench/README.md).
        count = os.cpu_count() or 1
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    argv = [
        gunicorn,
        "--config",
        "python:policy_service.gunicorn_conf",
        "--bind",
        f"{settings.host}:{settings.port}",
        "--workers",
        str(count),
        "--log-level",
        settings.log_level,
        "policy_service.app:create_app()",
    ]
    click.echo(
        f"serving on http://{settings.host}:{settings.port} with {count} worker(s)", err=True
    )
    os.execv(argv[0], argv)


@main.group()
def rules() -> None:
    """Check and test rule files."""


def _paths(paths: tuple[Path, ...]) -> list[Path]:
    if not paths:
        paths = (Settings.from_env().rules_dir,)
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(rule_files(path))
        elif path.exists():
            found.append(path)
        else:
            raise click.BadParameter(f"{path} does not exist", param_hint="PATH")
    return found


@rules.command("check")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def rules_check(paths: tuple[Path, ...]) -> None:
    """Validate rule files (default: POLICY_RULES_DIR); print every problem as
    path:line:column: error: message. Exit 1 on any error."""
    errors = warnings = 0
    files = _paths(paths)
    for path in files:
        try:
            problems = list(load_ruleset(path.read_bytes(), str(path)).warnings)
        except RuleFileError as exc:
            problems = exc.problems
        for problem in problems:
            click.echo(str(problem))
            errors += problem.severity == "error"
            warnings += problem.severity == "warning"
    summary = f"{len(files)} file(s), {errors} error(s), {warnings} warning(s)"
    if errors:
        raise click.ClickException(summary)
    click.echo(summary)


@rules.command("test")
@click.argument("directory", required=False, type=click.Path(path_type=Path, file_okay=False))
def rules_test(directory: Path | None) -> None:
    """Run the inline tests of every rule file in DIRECTORY (default: POLICY_RULES_DIR)
    through the service's evaluator. Exit 1 on a failure."""
    directory = directory or Settings.from_env().rules_dir
    try:
        policy = load(directory, datetime.now(UTC))
    except RuleFileError as exc:
        for problem in exc.problems:
            click.echo(str(problem))
        raise click.ClickException("the rules do not load; fix the errors above") from None
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        report = run_tests(policy)
    finally:
        policy.close()
    for outcome in report.outcomes:
        mark = "PASSED" if outcome.passed else "FAILED"
        click.echo(f"{outcome.location} {outcome.ruleset}: {outcome.test.name} {mark}")
        for failure in outcome.failures:
            click.echo(f"    {failure}")
    for name, missing in report.uncovered.items():
        total = len(policy.rulesets[name].ruleset.rules)
        covered = total - len(missing)
        line = f"coverage {name}: {covered}/{total} rules won at least one test"
        click.echo(line + (f"; untested: {', '.join(missing)}" if missing else ""))
    failed = len(report.failed)
    summary = f"{len(report.outcomes) - failed} passed, {failed} failed"
    if failed:
        raise click.ClickException(summary)
    click.echo(summary)


main.add_command(analyzer)
main.add_command(events)
main.add_command(replay)


if __name__ == "__main__":  # pragma: no cover
    logging.basicConfig(level=logging.INFO)
    main()
