#!/usr/bin/env python3
"""The suite at the speed of the plugin (issue 13): ``python bench/suite_speed.py [options]``.

Measures, for the native bench plugin (``bench/fast_plugin.c``, built with ``cc``; it behaves
like the SDK's shell plugin, quirks included) and for the example Python plugin
(``examples/octa_plugin_shell.py``), the latter twice when ``python3`` on ``PATH`` is a
launcher such as a pyenv shim: as found (``example``), and with the interpreter it launches
first on ``PATH`` (``example-direct``):

* the full default suite's wall time through ``octa-conform``, ``-j 1`` and ``-j 2`` (best of
  ``--repeat`` runs; with ``--no-spawn-ahead-too`` also with spawn-ahead turned off);
* per check, through ``pytest --octa-plugin`` with ``bench/waits_plugin.py`` (``-j 1``): its
  wall time and its *deadline time*, the time spent in waits that ran out (quiet windows,
  continuation windows, timeouts), overlapping waits counted once. The rest of a check's time
  is the plugin's work and the harness's own.

The 1-minute load average is printed with every run: other processes on the machine skew
every figure. ``--json FILE`` writes everything measured.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
EXAMPLE = ROOT / "examples" / "octa_plugin_shell.py"
GOALS = {  # issue 13, seconds
    ("fast", 1): 4.0,
    ("example", 1): 8.0,
    ("example", 2): 5.0,
}
sys.path.insert(0, str(BENCH))

from fast_plugin import BuildError, build  # noqa: E402
from run import real_python3  # noqa: E402


def loadavg() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def tool(name: str) -> list[str]:
    """``octa-conform`` next to this interpreter, else ``python -m octa_conformance``."""
    path = Path(sys.executable).parent / name
    if path.exists():
        return [str(path)]
    return [sys.executable, "-m", "octa_conformance"]


def environment(
    spawn_ahead: bool = True, extra: dict[str, str] | None = None, tree: Path = ROOT
) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree), env.get("PYTHONPATH")]))
    env["OCTA_CONFORMANCE_SPAWN_AHEAD"] = "1" if spawn_ahead else "0"
    env.update(extra or {})
    return env


def real_python3_dir() -> str | None:
    """The directory of the interpreter ``python3`` on PATH really runs, when ``python3`` is a
    launcher (e.g. a pyenv shim) rather than the interpreter itself; else None."""
    found, real = real_python3(dict(os.environ))
    if found is None or not real or Path(found).resolve() == Path(real).resolve():
        return None
    return str(Path(real).parent)


def run_cli(
    plugin: Path,
    jobs: int,
    spawn_ahead: bool,
    extra: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    tree: Path = ROOT,
) -> dict[str, Any]:
    """One ``octa-conform PLUGIN [-j N] [args] --json R`` run in a fresh temp dir, with the
    package and suites of ``tree`` (``python -m octa_conformance`` for another tree)."""
    with tempfile.TemporaryDirectory(prefix="octa-speed-") as tmp:
        report = Path(tmp) / "r.json"
        cli = tool("octa-conform") if tree == ROOT else [sys.executable, "-m", "octa_conformance"]
        argv = [*cli, str(plugin), *args, "--json", str(report)]
        if jobs > 1:
            argv += ["-j", str(jobs)]
        load = loadavg()
        t0 = time.perf_counter()
        proc = subprocess.run(
            argv,
            cwd=tmp,
            capture_output=True,
            text=True,
            env=environment(spawn_ahead, extra, tree),
            timeout=900,
            check=False,
        )
        wall = time.perf_counter() - t0
        data = json.loads(report.read_text()) if report.exists() else {}
    outcomes: dict[str, int] = {}
    for c in data.get("checks", []):
        outcomes[c["outcome"]] = outcomes.get(c["outcome"], 0) + 1
    return {
        "wall_s": round(wall, 3),
        "load_1min": round(load, 2),
        "exit": proc.returncode,
        "verdict": data.get("verdict"),
        "outcomes": outcomes,
        "tail": (proc.stdout + proc.stderr).strip().splitlines()[-1:],
    }


def per_check(plugin: Path, extra: dict[str, str] | None = None) -> dict[str, Any]:
    """Per-check wall and deadline time from one ``pytest --octa-plugin`` run (``-j 1``)."""
    with tempfile.TemporaryDirectory(prefix="octa-speed-waits-") as tmp:
        out = Path(tmp) / "waits"
        out.mkdir()
        env = environment(extra={**(extra or {}), "OCTA_BENCH_WAITS": str(out)})
        env["PYTHONPATH"] = os.pathsep.join([str(BENCH), env["PYTHONPATH"]])
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        argv += ["-p", "waits_plugin", f"--rootdir={tmp}", "--octa-plugin", str(plugin)]
        load = loadavg()
        t0 = time.perf_counter()
        proc = subprocess.run(
            argv, cwd=tmp, capture_output=True, text=True, env=env, timeout=900, check=False
        )
        wall = time.perf_counter() - t0
        rows = [
            json.loads(line)
            for path in glob.glob(str(out / "*.jsonl"))
            for line in Path(path).read_text().splitlines()
        ]
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:]
    rows.sort(key=lambda r: -r["wall_s"])
    return {
        "wall_s": round(wall, 3),
        "load_1min": round(load, 2),
        "summary": tail,
        "checks_wall_s": round(sum(r["wall_s"] for r in rows), 3),
        "waited_s": round(sum(r["waited_s"] for r in rows), 3),
        "checks": rows,
    }


def best_wall(runs: list[dict[str, Any]]) -> float:
    """The shortest wall time of the runs that gave a verdict (NaN if none did: a run that
    could not even start is no figure)."""
    return min((r["wall_s"] for r in runs if r["verdict"]), default=float("nan"))


def short(what: str) -> str:
    """A wait's name without its parenthesised explanation."""
    return re.sub(r" \(.*", "", what)


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2, help="runs per suite figure (best)")
    parser.add_argument("--jobs", type=int, nargs="*", default=[1, 2])
    parser.add_argument(
        "--plugins",
        nargs="*",
        default=["fast", "example", "example-direct"],
        help="fast, example, example-direct (python3 resolved past a launcher such as a"
        " pyenv shim, when there is one)",
    )
    parser.add_argument("--no-per-check", action="store_true", help="skip the deadline table")
    parser.add_argument(
        "--no-spawn-ahead-too", action="store_true", help="also run with spawn-ahead off"
    )
    parser.add_argument(
        "--without-performance-too",
        action="store_true",
        help="also run the suite with --skip 'performance.*' (the INFO figures)",
    )
    parser.add_argument(
        "--compare-tree",
        type=Path,
        help="another source tree of octa-conformance (e.g. an older commit, exported with"
        " `git archive COMMIT | tar -x -C DIR`): each run of this tree is followed by the"
        " same run of that one, so that both see the same load",
    )
    parser.add_argument("--json", help="write everything measured to this file")
    args = parser.parse_args()

    plugins: dict[str, tuple[Path, dict[str, str]]] = {}  # name: (plugin, environment)
    if "fast" in args.plugins:
        try:
            plugins["fast"] = (build(), {})
        except BuildError as e:
            print(f"no fast plugin: {e}", file=sys.stderr)
    if "example" in args.plugins:
        plugins["example"] = (EXAMPLE, {})
    direct = real_python3_dir()
    if "example-direct" in args.plugins and direct is not None:
        path = os.pathsep.join([direct, os.environ.get("PATH", "")])
        plugins["example-direct"] = (EXAMPLE, {"PATH": path})
    report: dict[str, Any] = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "load_before": os.getloadavg(),
        "python3_launcher_skipped_for_example_direct": direct,
        "suite": {},
        "per_check": {},
    }
    rows = [("plugin", "jobs", "spawn-ahead", "best wall", "runs (load)", "verdict", "goal")]
    rows[0] = ("plugin", "jobs", "spawn-ahead", "checks", *rows[0][3:])
    modes = [(sa, ()) for sa in ([True, False] if args.no_spawn_ahead_too else [True])]
    if args.without_performance_too:
        modes.append((True, ("--skip", "performance.*")))
    for name, (plugin, extra) in plugins.items():
        for jobs in args.jobs:
            for spawn_ahead, cli_args in modes:
                what = "without performance.*" if cli_args else "all"
                print(f"... {name} -j {jobs} spawn-ahead={spawn_ahead} {what}", file=sys.stderr)
                runs, others = [], []
                for _ in range(args.repeat):
                    runs.append(run_cli(plugin, jobs, spawn_ahead, extra, cli_args))
                    if args.compare_tree is not None:
                        other = run_cli(plugin, jobs, True, extra, cli_args, args.compare_tree)
                        others.append(other)
                best = best_wall(runs)
                key = f"{name} -j {jobs}" + ("" if spawn_ahead else " no spawn-ahead")
                key += " without performance" if cli_args else ""
                report["suite"][key] = {"best_s": best, "runs": runs}
                if others:
                    report["suite"][key]["compare_tree"] = {
                        "tree": str(args.compare_tree),
                        "best_s": best_wall(others),
                        "runs": others,
                    }
                goal = GOALS.get((name.split("-")[0], jobs))
                goal = goal if spawn_ahead and not cli_args else None
                verdict_goal = ""
                if goal is not None and best == best:  # NaN: no run gave a verdict
                    verdict_goal = f"<= {goal:.0f} s: {'met' if best <= goal else 'NOT met'}"
                verdicts = {r["verdict"] for r in runs}
                rows.append(
                    (
                        name,
                        str(jobs),
                        "on" if spawn_ahead else "off",
                        "no performance.*" if cli_args else "all",
                        f"{best:.1f} s",
                        ", ".join(f"{r['wall_s']:.1f} ({r['load_1min']:.1f})" for r in runs),
                        "/".join(sorted(str(v) for v in verdicts)),
                        verdict_goal,
                    )
                )
                if others:
                    rows.append(
                        (
                            f"  {args.compare_tree.name}",
                            str(jobs),
                            "-",
                            "no performance.*" if cli_args else "all",
                            f"{best_wall(others):.1f} s",
                            ", ".join(f"{r['wall_s']:.1f} ({r['load_1min']:.1f})" for r in others),
                            "/".join(sorted({str(r["verdict"]) for r in others})),
                            "",
                        )
                    )
    if not args.no_per_check:
        for name, (plugin, extra) in plugins.items():
            print(f"... {name}: per-check deadline time", file=sys.stderr)
            report["per_check"][name] = per_check(plugin, extra)
    report["load_after"] = os.getloadavg()

    print(f"\n{report['date']}, {report['nproc']} CPUs, Python {report['python']}")
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*report["load_before"]))
    print("load average after:  {:.2f} {:.2f} {:.2f}\n".format(*report["load_after"]))
    print(table(rows))
    for name, data in report["per_check"].items():
        print(
            f"\n{name}: pytest -j 1 {data['wall_s']:.1f} s (load {data['load_1min']:.1f}); checks"
            f" {data['checks_wall_s']:.1f} s, of which deadline time {data['waited_s']:.2f} s"
        )
        lines = [("check", "wall", "deadline", "plugin+harness", "what ran out")]
        shown = [r for r in data["checks"] if r["waited_s"] > 0 or r["wall_s"] >= 0.3]
        for r in shown:
            what = ", ".join(f"{short(k)} {v:.2f}" for k, v in list(r["by_what"].items())[:2])
            lines.append(
                (
                    r["id"],
                    f"{r['wall_s']:.2f}",
                    f"{r['waited_s']:.2f}",
                    f"{r['wall_s'] - r['waited_s']:.2f}",
                    what,
                )
            )
        rest = [r for r in data["checks"] if r not in shown]
        if rest:
            lines.append(
                (
                    f"({len(rest)} other checks)",
                    f"{sum(r['wall_s'] for r in rest):.2f}",
                    f"{sum(r['waited_s'] for r in rest):.2f}",
                    f"{sum(r['wall_s'] - r['waited_s'] for r in rest):.2f}",
                    "",
                )
            )
        print(table(lines))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
