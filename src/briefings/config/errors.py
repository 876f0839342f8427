"""Errors for configuration that cannot be used as written.

Every one of them is a ``ConfigurationError`` (a ``ValueError``) with a one-line message naming
the file or environment variable, the key and what was expected, so the command line can print
it as it is and stop before any work.
"""

from __future__ import annotations

from pathlib import Path

from briefings.resources import PROJECT_ROOT, RESOURCES


class ConfigurationError(ValueError):
    """Configuration (a file comms teams edit, or the environment) that cannot be used."""


class SettingsError(ConfigurationError):
    """A comms team's configuration file that cannot be used as written."""


class SubscriptionsError(ConfigurationError):
    """A subscriptions file that cannot be used as written; lists every problem found."""

    def __init__(self, path: Path, problems: list[str]):
        self.path = path
        self.problems = problems
        super().__init__(f"{shown(path)}: " + "; ".join(problems))


def shown(path: Path) -> str:
    """A file's name as a person finds it: relative to the project (or the bundled files) when
    it is one of them, else as given."""
    for root in (PROJECT_ROOT, RESOURCES):
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            continue
    return str(path)
