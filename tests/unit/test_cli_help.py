"""The `tenure` command line: every command and option explains itself, and usage
mistakes are usage errors (exit status 2, one line), not confusing messages."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from tenure.cli.main import build_parser, main


def commands(parser: argparse.ArgumentParser, path: str = "tenure"
             ) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, f"{path} {name}")


def test_every_command_and_option_has_help() -> None:
    missing = []
    for path, parser in commands(build_parser()):
        if not parser.description:
            missing.append(f"{path}: no description")
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if isinstance(action, argparse._SubParsersAction):
                missing += [f"{path} {a.dest}: no help" for a in action._choices_actions
                            if not a.help]
            elif not action.help:
                missing.append(f"{path} {action.option_strings or action.dest}: no help")
    assert missing == []


def test_the_walk_sees_the_whole_tree() -> None:
    """Guard against a walk that silently finds nothing."""
    paths = {path for path, _ in commands(build_parser())}
    assert {"tenure init", "tenure apikey", "tenure policy withdraw",
            "tenure device init", "tenure device fastboot unlock"} <= paths


def test_apikey_revoke_without_an_id_is_a_usage_error(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["apikey", "revoke"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "revoke needs the key id" in err and "None" not in err


def test_apikey_roles_are_the_ones_something_uses(
        capsys: pytest.CaptureFixture[str]) -> None:
    """`support` keys were accepted but no endpoint takes them (support agents are
    accounts): creating one is refused up front."""
    with pytest.raises(SystemExit) as exited:
        main(["apikey", "create", "--role", "support"])
    assert exited.value.code == 2
    assert "invalid choice: 'support'" in capsys.readouterr().err
