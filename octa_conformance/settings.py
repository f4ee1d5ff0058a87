"""Run options, shared by both front doors (CLI and pytest plugin).

Configuration comes from ``octa-conform.toml`` or ``[tool.octa-conform]`` in a
``pyproject.toml``, looked up from the plugin's directory upward (or named with
``--config``); command-line options win over the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from octa_conformance import catalogue
from octa_conformance.config import DEFAULT_OCTA_VERSION, HarnessConfig, Timeouts
from octa_conformance.probes import (
    CONFIG_FILE,
    ConfigError,
    parse_probe_option,
    validate,
)

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

KNOWN_KEYS = {
    "probes",
    "octa-version",
    "strict",
    "select",
    "skip",
    "baseline",
    "plugin-args",
    "timeout-scale",
}


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path} is not valid TOML: {e}") from None


def find_config(start: Path) -> tuple[Path | None, dict[str, Any]]:
    """The nearest ``octa-conform.toml`` or pyproject ``[tool.octa-conform]`` above ``start``."""
    here = start if start.is_dir() else start.parent
    for d in (here, *here.parents):
        candidate = d / CONFIG_FILE
        if candidate.is_file():
            return candidate, _read_toml(candidate)
        pyproject = d / "pyproject.toml"
        if pyproject.is_file():
            section = _read_toml(pyproject).get("tool", {}).get("octa-conform")
            if section is not None:
                return pyproject, section
    return None, {}


def load_config(path: Path) -> dict[str, Any]:
    """Settings from a file named on the command line."""
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    data = _read_toml(path)
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("octa-conform", {})
    return data


def check_settings(data: Mapping[str, Any], where: str) -> dict[str, Any]:
    unknown = set(data) - KNOWN_KEYS
    if unknown:
        raise ConfigError(
            f"{where}: unknown setting(s) {', '.join(sorted(unknown))}"
            f" (known: {', '.join(sorted(KNOWN_KEYS))})"
        )
    if "probes" in data:
        if not isinstance(data["probes"], dict):
            raise ConfigError(f"{where}: [probes] must be a table")
        validate(data["probes"], f"{where} [probes]")  # templates and quoting
    for key, typ, what in _SETTING_TYPES:
        value = data.get(key)
        if value is None:
            continue
        ok = isinstance(value, typ) and not (typ is not bool and isinstance(value, bool))
        if ok and typ is list:
            ok = all(isinstance(x, str) for x in value)
        if not ok:
            raise ConfigError(f"{where}: '{key}' must be {what}, got {value!r}")
    return dict(data)


_SETTING_TYPES: tuple[tuple[str, type | tuple[type, ...], str], ...] = (
    ("octa-version", str, "a version string"),
    ("strict", bool, "true or false"),
    ("select", list, "a list of check id patterns"),
    ("skip", list, "a list of check id patterns"),
    ("plugin-args", list, "a list of strings"),
    ("baseline", str, "a file path"),
    ("timeout-scale", (int, float), "a positive number"),
)


def load_baseline(path: Path) -> frozenset[str]:
    """Known failures: a JSON list of ids, a JSON report, or one id per line (``#`` comments)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read baseline {path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"baseline {path} is not UTF-8 text") from None
    stripped = text.strip()
    ids: list[str]
    if stripped.startswith(("[", "{")):
        try:
            data = json.loads(stripped)
        except ValueError as e:
            raise ConfigError(f"baseline {path} is not valid JSON: {e}") from None
        if isinstance(data, dict):  # a JSON report: its failed checks
            checks = data.get("checks")
            if not isinstance(checks, list):
                raise ConfigError(f"baseline {path}: a JSON object must be a report with 'checks'")
            ids = [
                c.get("id")
                for c in checks
                if isinstance(c, dict) and c.get("outcome") in ("failed", "xfailed")
            ]
        elif isinstance(data, list) and all(isinstance(x, str) for x in data):
            ids = data
        else:
            raise ConfigError(f"baseline {path}: expected a list of check ids")
    else:
        ids = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
        ids = [i for i in ids if i]
    unknown = [i for i in ids if i not in catalogue.CHECKS]
    if unknown:
        raise ConfigError(f"baseline {path}: unknown check id(s) {', '.join(unknown)}")
    return frozenset(ids)


@dataclass(frozen=True)
class RunOptions:
    """Everything one conformance run needs, validated."""

    plugin: Path
    octa_version: str = DEFAULT_OCTA_VERSION
    strict: bool = False
    select: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    probe_options: Mapping[str, str] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    config_path: Path | None = None
    baseline: frozenset[str] = frozenset()
    baseline_path: Path | None = None
    timeout_scale: float = 1.0
    plugin_args: tuple[str, ...] = ()

    def harness_config(self) -> HarnessConfig:
        return HarnessConfig(
            octa_version=self.octa_version,
            timeouts=Timeouts().scaled(self.timeout_scale),
            plugin_args=self.plugin_args,
        )

    def selected(self, check_id: str) -> bool:
        if self.select and check_id not in catalogue.match(self.select):
            return False
        return not (self.skip and check_id in catalogue.match(self.skip))


def check_plugin_path(plugin: str | os.PathLike[str]) -> Path:
    """The plugin path, or ConfigError if it cannot be run."""
    path = Path(plugin).expanduser()
    if not path.exists():
        raise ConfigError(f"plugin {path} does not exist")
    if path.is_dir():
        raise ConfigError(f"plugin {path} is a directory, not an executable")
    if path.suffix != ".py" and not os.access(path, os.X_OK):
        raise ConfigError(f"plugin {path} is not executable (chmod +x it)")
    if path.suffix == ".py":  # Octa runs it with python3: catch what would stop it at once
        try:
            compile(path.read_bytes(), str(path), "exec")
        except SyntaxError as e:
            raise ConfigError(
                f"plugin {path} is not valid Python: {e.msg} (line {e.lineno})"
            ) from None
        except (OSError, ValueError) as e:
            raise ConfigError(f"plugin {path} cannot be read as Python: {e}") from None
    return path.absolute()


def check_octa_version(version: str) -> str:
    """``version`` if it is a semver version (what Octa's own version is); else ConfigError."""
    from octa_conformance.semver import parse_version

    try:
        parse_version(version)
    except ValueError as e:
        raise ConfigError(f"--octa-version {version!r} is not a semver version: {e}") from None
    return version


def check_timeout_scale(scale: object) -> float:
    """``scale`` as a float if it is a positive number; else ConfigError."""
    if not isinstance(scale, (int, float)) or isinstance(scale, bool) or scale <= 0:
        raise ConfigError(f"timeout scale must be a positive number, got {scale!r}")
    return float(scale)


def resolve(
    plugin: str | os.PathLike[str],
    *,
    octa_version: str | None = None,
    strict: bool | None = None,
    select: Sequence[str] = (),
    skip: Sequence[str] = (),
    probes: Sequence[str] = (),
    config: str | os.PathLike[str] | None = None,
    baseline: str | os.PathLike[str] | None = None,
    timeout_scale: float | None = None,
    plugin_args: Sequence[str] = (),
) -> RunOptions:
    """Validate options (command line over config file); raise ConfigError on bad input."""
    path = check_plugin_path(plugin)
    if config is not None:
        config_path: Path | None = Path(config)
        data = load_config(config_path)  # type: ignore[arg-type]
    else:
        config_path, data = find_config(path)
    settings = check_settings(data, str(config_path)) if config_path else {}

    version = check_octa_version(
        str(octa_version or settings.get("octa-version") or DEFAULT_OCTA_VERSION)
    )
    sel = tuple(select) or tuple(settings.get("select", ()))
    skp = tuple(skip) or tuple(settings.get("skip", ()))
    bad = catalogue.unmatched(sel + skp)
    if bad:
        raise ConfigError(
            f"unknown check id(s) or pattern(s): {', '.join(bad)} (see 'octa-conform list')"
        )
    probe_options = dict(parse_probe_option(p) for p in probes)
    scale = check_timeout_scale(
        timeout_scale if timeout_scale is not None else settings.get("timeout-scale", 1.0)
    )
    base_path = Path(baseline) if baseline else None
    if base_path is None and settings.get("baseline"):
        base_path = Path(config_path).parent / settings["baseline"]  # type: ignore[arg-type]
    return RunOptions(
        plugin=path,
        octa_version=version,
        strict=bool(settings.get("strict", False)) if strict is None else strict,
        select=sel,
        skip=skp,
        probe_options=probe_options,
        settings=settings,
        config_path=config_path,
        baseline=load_baseline(base_path) if base_path else frozenset(),
        baseline_path=base_path,
        timeout_scale=scale,
        plugin_args=tuple(plugin_args) or tuple(settings.get("plugin-args", ())),
    )
