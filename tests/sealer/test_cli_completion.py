"""The bash completion script is generated from the registry and each command's parser, so it must name
every command and every visible flag, and be valid bash."""

from __future__ import annotations

import argparse
import shlex
import subprocess

from sealer.cli.base import Group
from sealer.cli.completion import bash_script, walk
from sealer.cli.env import Env


def test_every_command_and_visible_flag_is_in_the_script() -> None:
    script = bash_script()
    lines = script.splitlines()
    commands = 0
    for words, target in walk():
        key = shlex.quote(f"sealer {words}")
        entry = next((line for line in lines if line.strip().startswith(f"[{key}]=")), None)
        assert entry is not None, words  # every command and group has its flags entry
        commands += 1
        if isinstance(target, Group):
            continue
        offered = shlex.split(entry.split("=", 1)[1])[0].split()
        for action in target().parser(Env())._actions:
            if action.help == argparse.SUPPRESS:
                continue
            for option in action.option_strings:
                assert "-" + option.lstrip("-") in offered, (words, option)
    assert commands > 60  # nested groups (kv metadata get) are reached too


def test_hidden_negations_are_not_offered() -> None:
    assert "-no-renewable" not in bash_script()


def test_the_script_is_valid_bash() -> None:
    subprocess.run(["bash", "-n"], input=bash_script(), text=True, check=True, timeout=30)
