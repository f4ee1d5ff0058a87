"""Probes: command templates that make a plugin do something observable (CHECKS.md).

The harness cannot know a plugin's command language, so checks ask for probes by name
(``echo``, ``fail``, ``sleep``...). The plugin author configures templates; plugins whose
schema key is ``shell`` get a built-in POSIX ``sh`` set. Placeholder values are quoted
for the probe set's language before substitution.
"""

from __future__ import annotations

import shlex
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from octa_conformance.errors import OctaConformanceError

#: Every probe and the placeholders its template must use.
PROBES: dict[str, tuple[str, ...]] = {
    "echo": ("text",),
    "stderr": ("text",),
    "fail": ("code",),
    "sleep": ("seconds",),
    "lines": ("count",),
    "pwd": (),
    "env": ("name",),
    "touch": ("path",),
    "noop": (),
}
QUOTINGS = ("shell", "none")

#: The built-in set for plugins whose schema key is ``shell`` (runs ``params`` with sh).
SHELL_PROBES: dict[str, str] = {
    "echo": "printf '%s\\n' {text}",
    "stderr": "printf '%s\\n' {text} >&2",
    "fail": "exit {code}",
    "sleep": "sleep {seconds}",
    "lines": "seq 1 {count}",
    "pwd": "pwd -P",
    "env": "printenv {name}",
    "touch": "touch {path}",
}
BUILTIN_SETS: dict[str, dict[str, str]] = {"shell": SHELL_PROBES}
CONFIG_FILE = "octa-conform.toml"


class ConfigError(OctaConformanceError):
    """A configuration file or option is malformed (exit status 2)."""


class ProbeMissing(LookupError):
    """The check needs a probe that is not configured for this plugin."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"probe '{name}' is not configured for this plugin (set it with --probe"
            f" {name}=TEMPLATE or in {CONFIG_FILE} under [probes])"
        )
        self.name = name


def _placeholders(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


@dataclass(frozen=True)
class ProbeSet:
    """Templates by probe name plus the quoting they declare."""

    templates: Mapping[str, str] = field(default_factory=dict)
    quoting: str = "shell"
    source: str = "none"

    def has(self, name: str) -> bool:
        return name in self.templates

    def render(self, name: str, /, **values: Any) -> str:  # `/`: the env probe's {name}
        """The ``params`` string for probe ``name`` (raises ProbeMissing)."""
        if name not in self.templates:
            raise ProbeMissing(name)
        quote = shlex.quote if self.quoting == "shell" else str
        return self.templates[name].format(**{k: quote(str(v)) for k, v in values.items()})

    def merged(self, other: Mapping[str, str], quoting: str | None, source: str) -> ProbeSet:
        return ProbeSet({**self.templates, **other}, quoting or self.quoting, source)


def validate(templates: Mapping[str, Any], where: str) -> dict[str, str]:
    """Check probe names, template types and placeholders; raise ConfigError."""
    out = {}
    for name, template in templates.items():
        if name == "quoting":
            continue
        if name not in PROBES:
            raise ConfigError(f"{where}: unknown probe '{name}' (known: {', '.join(PROBES)})")
        if not isinstance(template, str) or not template.strip():
            raise ConfigError(f"{where}: probe '{name}' must be a non-empty string")
        try:
            used = _placeholders(template)
        except ValueError as e:
            raise ConfigError(f"{where}: probe '{name}' is not a valid template: {e}") from None
        unknown = used - set(PROBES[name])
        if unknown:
            raise ConfigError(
                f"{where}: probe '{name}' uses unknown placeholder(s) "
                f"{', '.join('{' + u + '}' for u in sorted(unknown))}"
                f" (allowed: {', '.join('{' + p + '}' for p in PROBES[name]) or 'none'})"
            )
        out[name] = template
    return out


def parse_probe_option(option: str) -> tuple[str, str]:
    """``NAME=TEMPLATE`` from the command line."""
    name, sep, template = option.partition("=")
    if not sep:
        raise ConfigError(f"--probe expects NAME=TEMPLATE, got {option!r}")
    validate({name.strip(): template}, "--probe")
    return name.strip(), template


def build_probes(
    key: str | None,
    settings: Mapping[str, Any] | None = None,
    options: Mapping[str, str] | None = None,
) -> ProbeSet:
    """The probe set for a plugin: built-ins for its key, then config, then options."""
    probes = ProbeSet()
    if key in BUILTIN_SETS:
        probes = ProbeSet(dict(BUILTIN_SETS[key]), "shell", f"built-in '{key}' set")
    section = dict((settings or {}).get("probes") or {})
    if section:
        quoting = section.get("quoting")
        if quoting is not None and quoting not in QUOTINGS:
            raise ConfigError(f"probe quoting must be one of {QUOTINGS}, got {quoting!r}")
        probes = probes.merged(validate(section, "configuration"), quoting, "configuration")
    if options:
        probes = probes.merged(dict(options), None, "command line")
    return probes
