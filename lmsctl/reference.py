"""Write ``docs/cli-reference.md`` from the Typer app, so the reference cannot drift from ``--help``.

Run it from the repository root after changing a command, an option or a help text::

    python -m lmsctl.reference          # rewrites docs/cli-reference.md
    python -m lmsctl.reference --check  # exit 1 when the file is stale (what the test checks)

It walks the lazily loaded groups of :data:`lmsctl.lazy.COMMANDS` the way ``lmsctl --help``
does, and renders each group and command: usage line, help text with its example, arguments
and options with their help, defaults and environment variables. The text comes from the
parameters' help records, never from a formatted ``--help``, so it does not depend on the
terminal's width or colours: two machines write the same file.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer
import typer.main
from typer.core import TyperGroup

from lmsctl.options import SHORT_HELP_LIMIT

if TYPE_CHECKING:
    # The types Typer's commands are declared with (Typer vendors Click since 0.26).
    from typer._click import Command

#: Where the reference lives, relative to the repository root.
REFERENCE = Path("docs/cli-reference.md")
#: The hand-written page beside it: the rules behind the commands (who may do what).
RULES = "cli-rules.md"
REGENERATE = "python -m lmsctl.reference"

_EXAMPLE = re.compile(r"^Examples?:\s*(.*)$", re.DOTALL)
#: ``<`` where Markdown would start an HTML tag (``<str>``), not ``1<=x``.
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")


@dataclass(frozen=True)
class Entry:
    """One group or command of the tree, with the context its help is rendered in."""

    command: Command
    ctx: typer.Context
    depth: int

    @property
    def path(self) -> str:
        return self.ctx.command_path


def _context(command: Command, name: str, parent: typer.Context | None) -> typer.Context:
    # As Click's make_context builds it (context settings such as -h/--help), without parsing.
    return typer.Context(command, info_name=name, parent=parent, **command.context_settings)


def subcommands(entry: Entry) -> list[Entry]:
    """A group's visible commands in ``--help`` order (a lazy group imports their modules)."""
    group = entry.command
    if not isinstance(group, TyperGroup):
        return []
    found = []
    for name in group.list_commands(entry.ctx):
        sub = group.get_command(entry.ctx, name)
        if sub is not None and not sub.hidden:
            found.append(Entry(sub, _context(sub, name, entry.ctx), entry.depth + 1))
    return found


def tree() -> Entry:
    """The root ``lmsctl`` command; walk it with :func:`subcommands`."""
    from lmsctl.main import app

    root = typer.main.get_command(app)
    return Entry(root, _context(root, "lmsctl", None), 0)


def _anchor(path: str) -> str:
    """GitHub's heading anchor of ``## lmsctl users create``."""
    return "#" + re.sub(r"[^a-z0-9 _-]", "", path.lower()).replace(" ", "-")


def _escape(text: str) -> str:
    """Markdown-safe prose: ``<str>`` would be read as an HTML tag; code spans stay as written."""
    parts = text.split("`")
    for i in range(0, len(parts), 2):
        parts[i] = _TAG_START.sub(r"\<", parts[i])
    return "`".join(parts)


def _cell(text: str) -> str:
    return _escape(" ".join(text.split())).replace("|", r"\|")


def _help_blocks(text: str) -> list[str]:
    """The help text as Markdown blocks: paragraphs as written, each example as a shell block."""
    text = text.split("\f", 1)[0]  # Click hides what follows a form feed from --help
    blocks = []
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        lines = [ln.strip() for ln in paragraph.splitlines() if ln.strip() != "\b"]
        match = _EXAMPLE.match("\n".join(lines))
        if match:
            label = lines[0].split(":", 1)[0]
            blocks.append(f"{label}:\n\n```sh\n{match.group(1).strip()}\n```")
        elif lines:
            blocks.append(_escape("\n".join(lines)))
    return blocks


def _parameters(entry: Entry) -> list[str]:
    arguments: list[str] = []
    options: list[str] = []
    help_option = entry.command.get_help_option(entry.ctx)
    for param in entry.command.get_params(entry.ctx):
        if param is help_option or getattr(param, "hidden", False):
            continue  # -h/--help: every command has it, the introduction says so once
        record = param.get_help_record(entry.ctx)
        if record is None:
            continue
        names, help_text = record
        # A pipe splits a table cell even inside a code span (choices: <add|update|sync>).
        code = names.replace("|", r"\|")
        row = f"| `{code}` | {_cell(help_text)} |"
        (options if param.param_type_name == "option" else arguments).append(row)
    blocks = []
    for title, rows in (("Arguments", arguments), ("Options", options)):
        if rows:
            header = "argument" if title == "Arguments" else "option"
            blocks.append(f"{title}:\n\n| {header} | description |\n|---|---|\n" + "\n".join(rows))
    return blocks


def _section(entry: Entry, children: list[Entry]) -> list[str]:
    heading = "##" if entry.depth <= 1 else "###"
    usage = " ".join([entry.path, *entry.command.collect_usage_pieces(entry.ctx)])
    blocks = [f"{heading} {entry.path}", f"```text\n{usage}\n```"]
    blocks += _help_blocks(entry.command.help or entry.command.short_help or "")
    if children:
        rows = [
            f"| [`{sub.ctx.info_name}`]({_anchor(sub.path)}) | "
            f"{_cell(sub.command.get_short_help_str(limit=SHORT_HELP_LIMIT))} |"
            for sub in children
        ]
        blocks.append("| command | what it does |\n|---|---|\n" + "\n".join(rows))
    blocks += _parameters(entry)
    return blocks


def render() -> str:
    """The whole reference, as written to ``docs/cli-reference.md``."""
    blocks = [
        "# lmsctl command reference",
        f"<!-- Generated from the Typer app by `{REGENERATE}`: do not edit by hand. -->",
        "Every group and command of `lmsctl`, as its `--help` shows it: usage, help with an "
        "example, arguments and options with their defaults. The rules behind the commands "
        f"(who may do what, what each one refuses) are in [{RULES}]({RULES}).",
        "Global options (`--database`, `--as`, `--config`) go before the group: "
        "`lmsctl --as EMAIL GROUP COMMAND ...`. Every group and command also takes `-h`/`--help`.",
    ]

    def walk(entry: Entry) -> None:
        children = subcommands(entry)
        blocks.extend(_section(entry, children))
        for sub in children:
            walk(sub)

    walk(tree())
    return "\n\n".join(blocks) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=REGENERATE, description=f"Write {REFERENCE} from the Typer app."
    )
    parser.add_argument(
        "-o", "--output", type=Path, default=REFERENCE, help=f"default: {REFERENCE}"
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 when the file is stale"
    )
    args = parser.parse_args(argv)
    text = render()
    current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
    if args.check:
        if current != text:
            print(f"{args.output} is stale: run `{REGENERATE}`", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    if current == text:
        print(f"{args.output} is up to date")
    else:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
