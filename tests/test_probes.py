"""Probes: one contract per probe, validation against it, quoting, and the quoting hint."""

from __future__ import annotations

import shlex

import pytest

from octa_conformance import catalogue
from octa_conformance.probes import (
    CONTRACTS,
    SHELL_PROBES,
    ConfigError,
    ProbeSet,
    build_probes,
    needed_by,
    parse_probe_option,
    validate,
)
from octa_conformance.wording import mangled, quoting_hint, short

TEXT = "octa-conformance stdout probe 1a2b3c4d"


def test_every_probe_the_catalogue_names_has_a_contract() -> None:
    named = {p for spec in catalogue.CHECKS.values() for p in spec.probes}
    assert named <= set(CONTRACTS)
    for contract in CONTRACTS.values():
        assert contract.does and contract.stdout and contract.exit
    assert needed_by()["sleep"] == [
        cid for cid, spec in catalogue.CHECKS.items() if "sleep" in spec.probes
    ]


def test_built_in_shell_set_keeps_the_contracts() -> None:
    assert validate(SHELL_PROBES, "built-in") == SHELL_PROBES


@pytest.mark.parametrize(
    ("templates", "words"),
    [
        ({"shout": "say {text}"}, ["unknown probe 'shout'"]),
        ({"echo": "say {txt}"}, ["unknown placeholder", "{txt}", "allowed: {text}"]),
        ({"echo": "say hello"}, ["'echo' must use {text}", "print text to stdout"]),
        ({"sleep": "wait"}, ["'sleep' must use {seconds}"]),
        ({"pwd": "pwd {path}"}, ["allowed: none"]),
        ({"echo": "  "}, ["non-empty string"]),
        ({"quoting": "perl"}, ["quoting must be one of shell or none", "'perl'"]),
    ],
)
def test_validation_against_the_contracts(templates: dict[str, str], words: list[str]) -> None:
    with pytest.raises(ConfigError) as e:
        validate(templates, "where")
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_quoting_from_the_command_line() -> None:
    assert parse_probe_option("quoting=none") == ("quoting", "none")
    assert parse_probe_option("quoting= shell ") == ("quoting", "shell")
    with pytest.raises(ConfigError, match="quoting must be one of shell or none"):
        parse_probe_option("quoting=perl")
    with pytest.raises(ConfigError, match="NAME=TEMPLATE or quoting"):
        parse_probe_option("quoting")
    probes = build_probes("posix", options={"quoting": "none", "echo": "say {text}"})
    assert probes.quoting == "none" and probes.chosen
    assert "quoting" not in probes.templates
    assert probes.render("echo", text="a b") == "say a b"
    # quoting alone, on the built-in set, applies to it
    shell = build_probes("shell", options={"quoting": "none"})
    assert shell.render("echo", text="a b") == "printf '%s\\n' a b"
    assert not build_probes("shell").chosen
    # the config file's quoting, overridden by the command line's
    settings = {"probes": {"quoting": "none", "echo": "say {text}"}}
    assert build_probes("posix", settings).quoting == "none"
    assert build_probes("posix", settings, {"quoting": "shell"}).quoting == "shell"


def test_render_keeps_a_journal_per_fresh_set() -> None:
    probes = build_probes("shell")
    probes.render("echo", text=TEXT)
    assert list(probes.journal) == [("echo", {"text": TEXT})]
    fresh = probes.fresh()
    assert not fresh.journal and fresh == probes


@pytest.mark.parametrize(
    "got",
    [
        shlex.quote(TEXT),  # shell-quoted, printed by a plugin that runs no shell
        "stdout " + short(shlex.quote(TEXT)) + "; it ended with ExitStatus{code: 0}",
        "\n".join(TEXT.split()),  # unquoted, split into words by a shell
        "stdout " + short("\n".join(TEXT.split())),
        "".join(TEXT.split()),
    ],
)
def test_mangled_quoting_is_recognised(got: str) -> None:
    assert mangled(TEXT, got)


@pytest.mark.parametrize(
    "got",
    [
        TEXT,
        "stdout " + short(TEXT) + "; it ended with ExitStatus{code: 1}",  # right text, wrong code
        TEXT + "\n",
        "stdout ''",
        "something else entirely",
        short("x" * 200),
    ],
)
def test_not_mangled(got: str) -> None:
    assert not mangled(TEXT, got)


def test_quoting_hint_only_for_probes_the_author_chose() -> None:
    got = "stdout " + short(shlex.quote(TEXT))
    built_in = build_probes("shell")
    built_in.render("echo", text=TEXT)
    assert quoting_hint(built_in, got) == ""  # the plugin mangles: not the probes' fault
    chosen = ProbeSet({"echo": "say {text}"}, "shell", "configuration")
    chosen.render("echo", text=TEXT)
    hint = quoting_hint(chosen, got)
    assert 'quoting = "shell"' in hint and "--probe quoting=none" in hint
    unquoted = ProbeSet({"echo": "say {text}"}, "none", "command line")
    assert "--probe quoting=shell" in quoting_hint(unquoted, "\n".join(TEXT.split()), [TEXT])
    assert quoting_hint(chosen, "stdout " + short(TEXT)) == ""
