"""The README and the --help texts agree: the commands in its table exist, and every option it lists for a command
appears in that command's --help; every command's help shows an example."""

import re
from pathlib import Path

import pytest
import typer

from seqdiag.cli import app

README = Path(__file__).resolve().parent.parent / "README.md"
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
COMMANDS_IN_TICKS = re.compile(r"`([a-z]+)`")


def _cells(line: str) -> list[str]:
    """The cells of a Markdown table row; `\\|` inside a cell is a literal bar, not a separator."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


def readme_commands() -> dict[str, set[str]]:
    """Command table: `seqdiag NAME ...` rows -> the options named anywhere in the row."""
    found: dict[str, set[str]] = {}
    for line in README.read_text().splitlines():
        if not line.startswith("|"):
            continue
        cells = _cells(line)
        match = re.match(r"`seqdiag ([a-z]+)", cells[0])
        if match:
            found.setdefault(match.group(1), set()).update(OPTION.findall(line))
    return found


def readme_shared_options() -> dict[str, set[str]]:
    """Options table: each option -> the commands it is documented for.

    A leading "(`compare`, `sample`)" in the meaning names them; otherwise the commands named in backticks in
    the sentence introducing the table ("Options shared by the commands that compute (`train`, ...):").
    """
    lines = README.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Options shared by"))
    default = set(COMMANDS_IN_TICKS.findall(lines[start]))
    assert default, f"README line {start + 1}: name the commands the options apply to in backticks"
    options: dict[str, set[str]] = {}
    for line in lines[start + 1 :]:
        if line.startswith("|"):
            cells = _cells(line)
            if len(cells) < 2 or not OPTION.search(cells[0]):
                continue
            restricted = re.match(r"\(([^)]*)\)", cells[1])
            commands = set(COMMANDS_IN_TICKS.findall(restricted.group(1))) if restricted else default
            for option in OPTION.findall(cells[0]):
                options.setdefault(option, set()).update(commands)
        elif line.strip() and not line.startswith("|") and options:
            break
    return options


def cli_commands() -> dict[str, typer.models.CommandInfo]:
    return {c.name or c.callback.__name__: c for c in app.registered_commands}


def help_text(runner, *args: str) -> str:
    result = runner.invoke(app, [*args, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"}, terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output


def test_readme_command_table_matches_the_cli(runner):
    documented = set(readme_commands())
    top_help = help_text(runner)
    for name in documented:
        assert re.search(rf"\b{name}\b", top_help), f"README names `seqdiag {name}`, which `seqdiag --help` lacks"
    missing = set(cli_commands()) - documented
    assert not missing, f"commands missing from README.md's command table: {sorted(missing)}"


@pytest.mark.parametrize("command", sorted(readme_commands()))
def test_options_the_readme_lists_appear_in_help(runner, command):
    text = help_text(runner, command)
    listed = readme_commands()[command] | {o for o, cmds in readme_shared_options().items() if command in cmds}
    listed |= {"--json", "--debug"}  # "Every command takes --help; ... --json ...; --debug ..."
    absent = sorted(o for o in listed if not re.search(rf"{re.escape(o)}(?![\w-])", text))
    assert not absent, f"README lists {absent} for `seqdiag {command}`, its --help does not"


def test_every_shared_option_names_real_commands():
    commands = set(cli_commands())
    for option, named in readme_shared_options().items():
        assert named <= commands, f"README documents {option} for unknown commands {sorted(named - commands)}"


@pytest.mark.parametrize("command", sorted(cli_commands()))
def test_every_command_help_has_an_example(runner, command):
    text = help_text(runner, command)
    assert re.search(rf"Example: .*seqdiag {command}\b", text), f"`seqdiag {command} --help` shows no example"


def test_the_procedure_table_is_the_registry():
    """The README's table of procedures is generated from the registry (a new procedure regenerates it)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("update_readme", README.parent / "docs" / "update_readme.py")
    assert spec is not None and spec.loader is not None
    update_readme = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(update_readme)
    block = README.read_text().split(update_readme.PROCEDURES_START)[1].split(update_readme.PROCEDURES_END)[0]
    assert block.strip() == update_readme.procedure_table(), "run: python docs/update_readme.py --only procedures"
