"""`python -m analysis --help` explains itself: every command and option has help text in plain
words (no reST markup), and an option with a default says it."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from analysis.__main__ import build_parser


def commands():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {choice.dest: choice.help for choice in sub._choices_actions}
    return parser, sub.choices, helps


def test_every_command_has_help():
    _, choices, helps = commands()
    assert set(helps) == set(choices)
    assert all(helps[name] and helps[name].strip() for name in choices), helps


@pytest.mark.parametrize("name", sorted(commands()[1]))
def test_every_option_has_help_and_says_its_default(name):
    parser = commands()[1][name]
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        flag = "/".join(action.option_strings) or action.dest
        assert action.help and action.help.strip(), f"{name} {flag} has no help text"
        has_default = action.default not in (None, False, argparse.SUPPRESS)
        if has_default:
            assert "default" in action.help, f"{name} {flag}: default {action.default!r} not in its help"


def test_help_is_plain_text():
    parser, choices, _ = commands()
    texts = [parser.format_help()] + [p.format_help() for p in choices.values()]
    assert not any("``" in t or ":func:" in t for t in texts)


def test_help_runs_as_a_user_calls_it():
    proc = subprocess.run([sys.executable, "-m", "analysis", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "python -m analysis <command> --help" in " ".join(proc.stdout.split())
    assert proc.stderr == ""
