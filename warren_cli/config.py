"""Where the command finds Warren and its token: the environment, else a config file.

WARREN_URL and WARREN_API_TOKEN (or API_TOKEN, which Warren puts in consoles and tasks when
asked to); else the INI file $WARREN_CONFIG or ~/.config/warren/config:

    [warren]
    url = https://warren.example.org
    token = wrn_...
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from pathlib import Path


class ConfigError(Exception):
    """The command cannot find where to go or what to show: the message says how to fix it."""


@dataclass(frozen=True)
class Config:
    url: str
    token: str


def config_path() -> Path:
    explicit = os.environ.get("WARREN_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "warren" / "config"


def load_config() -> Config:
    path = config_path()
    from_file: dict[str, str] = {}
    if path.is_file():
        parser = configparser.ConfigParser()
        try:
            parser.read(path)
        except configparser.Error as exc:
            raise ConfigError(f"{path} is not a valid config file: {exc}") from None
        if parser.has_section("warren"):
            from_file = dict(parser.items("warren"))
    url = os.environ.get("WARREN_URL") or from_file.get("url", "")
    token = (
        os.environ.get("WARREN_API_TOKEN")
        or os.environ.get("API_TOKEN")
        or from_file.get("token", "")
    )
    if not url:
        raise ConfigError(
            f"Where is Warren? Set WARREN_URL (e.g. https://warren.example.org) or put "
            f"'url = ...' under [warren] in {path}."
        )
    if not token:
        raise ConfigError(
            f"No API token: create one on your Account tab, then set WARREN_API_TOKEN or put "
            f"'token = ...' under [warren] in {path}."
        )
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"WARREN_URL must start with http:// or https://, got {url!r}.")
    return Config(url=url.rstrip("/"), token=token.strip())
