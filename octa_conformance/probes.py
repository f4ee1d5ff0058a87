"""Probes: command templates that make a plugin do something observable (see `octa-conform list`).

The harness cannot know a plugin's command language, so checks ask for probes by name
(``echo``, ``fail``, ``sleep``...). The plugin author configures templates; plugins whose
schema key is ``shell`` get a built-in POSIX ``sh`` set. Placeholder values are quoted
for the probe set's language before substitution.
"""

from __future__ import annotations

import shlex
import string
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from octa_conformance import catalogue
from octa_conformance.errors import OctaConformanceError


@dataclass(frozen=True)
class ProbeContract:
    """What a probe's command must do: the one definition that validation, the checks'
    expectations and ``octa-conform list --probes`` share."""

    name: str
    placeholders: tuple[str, ...]
    does: str  # what the command must do, in one sentence
    stdout: str  # what must arrive in Stdout frames ("-": not looked at)
    exit: str  # the command's expected ending
    notes: str = ""

    @property
    def usage(self) -> str:
        """``echo {text}``: the name and its placeholders."""
        return " ".join([self.name, *("{" + p + "}" for p in self.placeholders)])


#: Every probe's contract (shown by `octa-conform list --probes`), in the order they are listed.
CONTRACTS: dict[str, ProbeContract] = {
    c.name: c
    for c in (
        ProbeContract(
            "echo",
            ("text",),
            "print text to stdout",
            "exactly text (one or more lines; their concatenation, newlines dropped, is text)",
            "ExitStatus 0",
            "texts hold non-ASCII, quotes, backslashes and tabs and reach 96 KiB; they avoid"
            " `$`, a leading `~`, `{{`, `{%` and `{#`",
        ),
        ProbeContract(
            "stderr",
            ("text",),
            "print text to stderr",
            "- (the text must arrive in Stderr frames, exactly)",
            "ExitStatus 0",
        ),
        ProbeContract(
            "fail",
            ("code",),
            "exit with that code",
            "-",
            "ExitStatus code (tried with 1 to 4)",
        ),
        ProbeContract(
            "sleep",
            ("seconds",),
            "run for that many seconds (2 and 30), in a real child process if the plugin runs"
            " commands as processes",
            "-",
            "ExitStatus 0 when it runs to the end",
            "must be cancellable: Shutdown, SIGINT, SIGTERM and the host closing the"
            " connection end it, leaving no process behind",
        ),
        ProbeContract(
            "lines",
            ("count",),
            "print the numbers 1..count, one per line",
            "the lines 1, 2, ... count (up to 2,000), complete and in order",
            "ExitStatus 0",
        ),
        ProbeContract(
            "pwd",
            (),
            "print the command's working directory",
            "exactly the Execute's dir (a canonical path: logical and physical agree, so"
            " `pwd` and `pwd -P` both do)",
            "ExitStatus 0",
        ),
        ProbeContract(
            "env",
            ("name",),
            "print the value of that environment variable",
            "exactly the value (sent in Execute.envs)",
            "ExitStatus 0",
        ),
        ProbeContract(
            "touch",
            ("path",),
            "create the (empty) file at path",
            "-",
            "ExitStatus 0",
            "with dry: true the plugin must not run it (execute.dry-run)",
        ),
        ProbeContract(
            "noop",
            (),
            "finish quickly, with any outcome",
            "-",
            "ExitStatus with any code, or Error",
            "optional: the protocol checks send an empty params without it",
        ),
    )
}

#: Every probe and the placeholders its template must use.
PROBES: dict[str, tuple[str, ...]] = {name: c.placeholders for name, c in CONTRACTS.items()}
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
JOURNAL_LENGTH = 256  # renders a ProbeSet remembers (the latest)
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
    """Templates by probe name plus the quoting they declare.

    ``journal`` lists every probe rendered from this set and the values substituted
    (the pytest plugin gives each check a fresh one: :meth:`fresh`), so that a failure
    can be related to the text a probe was asked to print.
    """

    templates: Mapping[str, str] = field(default_factory=dict)
    quoting: str = "shell"
    source: str = "none"
    journal: deque[tuple[str, dict[str, str]]] = field(
        default_factory=lambda: deque(maxlen=JOURNAL_LENGTH), compare=False, repr=False
    )

    @property
    def chosen(self) -> bool:
        """Did the plugin's author choose templates or quoting (config file, --probe)?"""
        return self.source in (SOURCE_CONFIG, SOURCE_OPTIONS)

    def has(self, name: str) -> bool:
        return name in self.templates

    def render(self, name: str, /, **values: Any) -> str:  # `/`: the env probe's {name}
        """The ``params`` string for probe ``name`` (raises ProbeMissing)."""
        if name not in self.templates:
            raise ProbeMissing(name)
        self.journal.append((name, {k: str(v) for k, v in values.items()}))
        quote = shlex.quote if self.quoting == "shell" else str
        return self.templates[name].format(**{k: quote(str(v)) for k, v in values.items()})

    def merged(self, other: Mapping[str, str], quoting: str | None, source: str) -> ProbeSet:
        return ProbeSet({**self.templates, **other}, quoting or self.quoting, source)

    def fresh(self) -> ProbeSet:
        """The same probes with an empty journal."""
        return replace(self, journal=deque(maxlen=JOURNAL_LENGTH))


SOURCE_CONFIG, SOURCE_OPTIONS = "configuration", "command line"


def _braced(names: Iterable[str]) -> str:
    return ", ".join("{" + n + "}" for n in names)


def check_quoting(value: Any, where: str) -> str:
    """``value`` if it is a known quoting; ConfigError otherwise."""
    if value not in QUOTINGS:
        raise ConfigError(
            f"{where}: probe quoting must be one of {' or '.join(QUOTINGS)}, got {value!r}"
        )
    return value


def validate(templates: Mapping[str, Any], where: str) -> dict[str, str]:
    """Check probe names, template types and placeholders against :data:`CONTRACTS`
    (``quoting`` is checked too, and left out of the result); raise ConfigError."""
    out = {}
    for name, template in templates.items():
        if name == "quoting":
            check_quoting(template, where)
            continue
        if name not in CONTRACTS:
            raise ConfigError(f"{where}: unknown probe '{name}' (known: {', '.join(CONTRACTS)})")
        if not isinstance(template, str) or not template.strip():
            raise ConfigError(f"{where}: probe '{name}' must be a non-empty string")
        try:
            used = _placeholders(template)
        except ValueError as e:
            raise ConfigError(f"{where}: probe '{name}' is not a valid template: {e}") from None
        wanted = CONTRACTS[name].placeholders
        unknown = used - set(wanted)
        if unknown:
            raise ConfigError(
                f"{where}: probe '{name}' uses unknown placeholder(s) {_braced(sorted(unknown))}"
                f" (allowed: {_braced(wanted) or 'none'})"
            )
        missing = [p for p in wanted if p not in used]
        if missing:
            raise ConfigError(
                f"{where}: probe '{name}' must use {_braced(missing)}"
                f" (it must {CONTRACTS[name].does}; see 'octa-conform list --probes')"
            )
        out[name] = template
    return out


def parse_probe_option(option: str) -> tuple[str, str]:
    """``NAME=TEMPLATE`` (or ``quoting=shell|none``) from the command line."""
    name, sep, template = option.partition("=")
    name = name.strip()
    if not sep:
        raise ConfigError(f"--probe expects NAME=TEMPLATE or quoting=shell|none, got {option!r}")
    if name == "quoting":
        return name, check_quoting(template.strip(), "--probe")
    validate({name: template}, "--probe")
    return name, template


def build_probes(
    key: str | None,
    settings: Mapping[str, Any] | None = None,
    options: Mapping[str, str] | None = None,
) -> ProbeSet:
    """The probe set for a plugin: built-ins for its key, then config, then options
    (``quoting`` in the config's ``[probes]`` or among the options sets the quoting)."""
    probes = ProbeSet()
    if key in BUILTIN_SETS:
        probes = ProbeSet(dict(BUILTIN_SETS[key]), "shell", f"built-in '{key}' set")
    section = dict((settings or {}).get("probes") or {})
    if section:
        quoting = section.get("quoting")
        if quoting is not None:
            check_quoting(quoting, "configuration")
        probes = probes.merged(validate(section, "configuration"), quoting, SOURCE_CONFIG)
    if options:
        quoting = options.get("quoting")
        if quoting is not None:
            check_quoting(quoting, "--probe")
        templates = validate(options, "--probe")
        probes = probes.merged(templates, quoting, SOURCE_OPTIONS)
    return probes


def needed_by() -> dict[str, list[str]]:
    """Each probe and the ids of the checks that need it (from the catalogue)."""
    out: dict[str, list[str]] = {name: [] for name in CONTRACTS}
    for spec in catalogue.CHECKS.values():
        for name in spec.probes:
            out.setdefault(name, []).append(spec.id)
    return out
