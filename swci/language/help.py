"""Online help, printed from the same table the parser uses (``grammar.COMMANDS``)."""

from __future__ import annotations

from swci.language.commands import Help
from swci.language.errors import UnknownHelpTopic
from swci.language.grammar import COMMANDS, SECTIONS, CommandSpec, find_commands
from swci.language.patterns import canonical_keyword

_USAGE_WIDTH = 58


def help_index() -> str:
    """Every command, grouped by section, one line each: usage and a one-line description."""
    lines = ["SWCI commands (keywords are case-insensitive; # starts a comment; HELP <command> for details):"]
    for section in SECTIONS:
        lines.append("")
        lines.append(f"{section}:")
        for spec in COMMANDS:
            if spec.section == section:
                lines.append(_index_line(spec))
    return "\n".join(lines)


def _index_line(spec: CommandSpec) -> str:
    usage = spec.usage
    if len(usage) > _USAGE_WIDTH:
        return f"  {usage}\n  {'':<{_USAGE_WIDTH}}  {spec.summary}"
    return f"  {usage:<{_USAGE_WIDTH}}  {spec.summary}"


def help_for(topic: str) -> str:
    """Usage, description and example of every command starting with the words of ``topic`` (any case).

    Raises UnknownHelpTopic when no command starts with them.
    """
    words = tuple(canonical_keyword(word) for word in topic.split())
    specs = find_commands(words)
    if not specs:
        raise UnknownHelpTopic(topic)
    return "\n\n".join(_entry(spec) for spec in specs)


def _entry(spec: CommandSpec) -> str:
    lines = [f"Usage: {spec.usage}", f"  {spec.summary}"]
    if spec.details:
        lines.append(f"  {spec.details}")
    lines.append(f"  Example: {spec.example}")
    return "\n".join(lines)


def render_help(command: Help) -> str:
    """What the shell prints for a parsed HELP command."""
    return help_index() if command.topic is None else help_for(command.topic)


def usage_of(command_type: type) -> tuple[str, ...]:
    """The usage lines of a command dataclass (two for some, e.g. none for a class not in the table)."""
    return tuple(spec.usage for spec in COMMANDS if spec.command is command_type)
