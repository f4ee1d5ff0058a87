"""``octa-conform list``: the check catalogue (``--probes``: the probes, what each must do
and which checks need it) as text, JSON or markdown."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from typing import Any

import click

from octa_conformance import __version__, catalogue
from octa_conformance.reporting import PROTOCOL_DOC


def catalogue_entries() -> list[dict[str, Any]]:
    """Every check as a plain dict (the ``list --format json`` entries)."""
    return [
        {
            "id": s.id,
            "level": s.level.value,
            "area": s.area,
            "section": s.section,
            "description": s.description,
            "probes": list(s.probes),
        }
        for s in catalogue.CHECKS.values()
    ]


def probe_entries() -> list[dict[str, Any]]:
    """Every probe's contract and the checks that need it (``list --probes --format json``)."""
    from octa_conformance.probes import CONTRACTS, needed_by

    needs = needed_by()
    return [
        {
            "name": c.name,
            "placeholders": list(c.placeholders),
            "does": c.does,
            "stdout": c.stdout,
            "exit": c.exit,
            "notes": c.notes,
            "checks": [
                {"id": cid, "level": catalogue.get(cid).level.value} for cid in needs[c.name]
            ],
        }
        for c in CONTRACTS.values()
    ]


def _list_probes(fmt: str) -> None:
    from octa_conformance.probes import BUILTIN_SETS, CONFIG_FILE, CONTRACTS

    entries = probe_entries()
    if fmt == "json":
        click.echo(json.dumps({"version": __version__, "probes": entries}, indent=2))
        return

    def needs(e: dict[str, Any], fmt: str) -> str:
        ids = [f"`{c['id']}` ({c['level']})" if fmt == "markdown" else c["id"] for c in e["checks"]]
        return ", ".join(ids) or "no check requires it"

    if fmt == "markdown":
        click.echo("| probe | must make the plugin... | stdout | ending | notes | needed by |")
        click.echo("|---|---|---|---|---|---|")
        for e in entries:
            cells = [f"`{CONTRACTS[e['name']].usage}`", e["does"], e["stdout"], e["exit"]]
            cells += [e["notes"] or "-", needs(e, fmt)]
            click.echo("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        return
    builtin = ", ".join(f"'{k}'" for k in BUILTIN_SETS)
    click.echo(
        f"Probes: command templates in the plugin's own language ({CONFIG_FILE} [probes] or"
        " --probe NAME=TEMPLATE;\nplaceholder values are quoted for a shell unless quoting ="
        f' "none"). Built-in sets for schema keys: {builtin}.'
    )
    for e in entries:
        musts = sum(c["level"] == "MUST" for c in e["checks"])
        n = len(e["checks"])
        click.echo(f"\n{CONTRACTS[e['name']].usage}  ({n} check{'s' * (n != 1)}, {musts} MUST)")
        click.echo(f"  must:    {e['does']}")
        click.echo(f"  stdout:  {e['stdout']}")
        click.echo(f"  ending:  {e['exit']}")
        if e["notes"]:
            click.echo(f"  note:    {e['notes']}")
        click.echo(f"  used by: {needs(e, fmt)}")


@click.command("list", short_help="List every check of the catalogue (or every probe).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--probes",
    "probes",
    is_flag=True,
    help="List the probes instead: what each must do, and which checks need it.",
)
def list_command(fmt: str, probes: bool) -> int:
    """List every check: id, level, area, description and the probes it needs."""
    if probes:
        _list_probes(fmt)
        return 0
    entries = catalogue_entries()
    if fmt == "json":
        click.echo(json.dumps({"version": __version__, "checks": entries}, indent=2))
        return 0
    if fmt == "markdown":
        click.echo("| id | level | area | § | description | probes |")
        click.echo("|---|---|---|---|---|---|")
        for e in entries:
            probes_cell = ", ".join(f"`{p}`" for p in e["probes"]) or "-"
            desc = e["description"].replace("|", "\\|")
            click.echo(
                f"| `{e['id']}` | {e['level']} | {e['area']} | {section_links(e['section'])}"
                f" | {desc} | {probes_cell} |"
            )
        return 0
    from octa_conformance.reporting.style import terminal_width

    # wrapped to the terminal's width (or COLUMNS); piped, one line per check (for grep)
    wrap = sys.stdout.isatty() or bool(os.environ.get("COLUMNS"))
    for line in catalogue_lines(entries, terminal_width() if wrap else None):
        click.echo(line)
    return 0


def section_links(section: str) -> str:
    """``3, 4.1`` -> ``[§3](docs/protocol.md#s3), [§4.1](docs/protocol.md#s4.1)``."""
    numbers = [n.strip() for n in section.split(",") if n.strip()]
    return ", ".join(f"[§{n}]({PROTOCOL_DOC}#s{n})" for n in numbers) or "-"


def catalogue_lines(entries: list[dict[str, Any]], width: int | None) -> list[str]:
    """The text catalogue, area by area, each description wrapped to ``width`` columns
    under its own column (or, when that leaves too little room, below the id); ``None``:
    one line per check."""
    id_width = max(len(e["id"]) for e in entries)
    sec_width = max(len(f"§{e['section']}") for e in entries)
    lead = 2 + id_width + 2 + 6 + 2 + sec_width + 2
    width = width or 10**6
    room = width - lead
    out: list[str] = []
    area = None
    for e in entries:
        if e["area"] != area:
            area = e["area"]
            out += ([] if not out else [""]) + [f"{area}:"]
        needs = f"  [probes: {' '.join(e['probes'])}]" if e["probes"] else ""
        text = e["description"] + needs
        head = f"  {e['id']:<{id_width}}  {e['level']:<6}  {'§' + e['section']:<{sec_width}}  "
        if room >= 30:
            wrapped = textwrap.wrap(text, room, break_on_hyphens=False) or [""]
            out.append(head + wrapped[0])
            out += [" " * lead + ln for ln in wrapped[1:]]
        else:  # a narrow terminal: the description below, indented
            out.append(head.rstrip())
            wrapped = textwrap.wrap(text, max(20, width - 6), break_on_hyphens=False)
            out += ["      " + ln for ln in wrapped]
    return out
