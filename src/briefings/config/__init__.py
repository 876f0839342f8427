"""Configuration, typed and checked at start: the files comms teams edit (briefing.yaml,
quotes/, subscriptions.yaml) and the environment (BRIEFINGS_* variables)."""

from briefings.config.errors import (
    ConfigurationError,
    SettingsError,
    SubscriptionsError,
)
from briefings.config.files import (
    Configuration,
    SubscriptionsFile,
    load_configuration,
    read_briefing_settings,
    read_subscriptions,
)
from briefings.config.settings import Settings, get_settings, reset_settings, unknown_variables

__all__ = [
    "Configuration",
    "ConfigurationError",
    "Settings",
    "SettingsError",
    "SubscriptionsError",
    "SubscriptionsFile",
    "get_settings",
    "load_configuration",
    "read_briefing_settings",
    "read_subscriptions",
    "reset_settings",
    "unknown_variables",
]
