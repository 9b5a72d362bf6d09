"""Where pytest would put the rootdir, and the snapshot folder it configures, found without
starting pytest (``accept``, ``review``, ``cassettes`` and ``update`` all need it).

The same files, in the same precedence, that pytest 9 reads while it looks for a rootdir.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from agentrig._errors import ConfigurationError
from agentrig._layout import snapshot_folder
from agentrig.cli._common import SNAPSHOT_DIR_INI, Unusable, display


def _ini_section(path: Path, section: str) -> dict[str, str] | None:
    import iniconfig  # pytest's own ini parser (a pytest dependency)

    try:
        cfg = iniconfig.IniConfig(str(path))
    except (iniconfig.ParseError, OSError, UnicodeDecodeError) as exc:
        raise Unusable(f"cannot read pytest configuration {display(path)}: {exc}") from None
    if section not in cfg:
        return None
    return dict(cfg[section].items())


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
        raise Unusable(f"cannot read pytest configuration {display(path)}: {exc}") from None


def pytest_config_in(path: Path) -> dict[str, Any] | None:
    """pytest's settings in one candidate file, or ``None`` when it holds none.

    The same files, in the same precedence, that pytest 9 reads while it looks for a rootdir.
    """
    name = path.name
    if name in ("pytest.toml", ".pytest.toml"):
        table = _toml(path).get("pytest", {})
        return dict(table) if isinstance(table, dict) else {}
    if name in ("pytest.ini", ".pytest.ini"):
        return _ini_section(path, "pytest") or {}
    if name == "pyproject.toml":
        tool = _toml(path).get("tool", {})
        table = tool.get("pytest") if isinstance(tool, dict) else None
        if not isinstance(table, dict):
            return None
        ini_options = table.get("ini_options")
        native = {k: v for k, v in table.items() if k != "ini_options"}
        if native:
            return native
        return dict(ini_options) if isinstance(ini_options, dict) else None
    if name == "tox.ini":
        return _ini_section(path, "pytest")
    if name == "setup.cfg":
        return _ini_section(path, "tool:pytest")
    return None


CONFIG_NAMES: Final = (
    "pytest.toml",
    ".pytest.toml",
    "pytest.ini",
    ".pytest.ini",
    "pyproject.toml",
    "tox.ini",
    "setup.cfg",
)


@dataclass(frozen=True, slots=True)
class Project:
    """Where pytest would put the rootdir, and the snapshot folder configured under it."""

    rootdir: Path
    snapshot_dir: Path


def _locate_config(start: Path) -> tuple[Path, dict[str, Any]]:
    first_pyproject: Path | None = None
    for base in (start, *start.parents):
        for name in CONFIG_NAMES:
            candidate = base / name
            if not candidate.is_file():
                continue
            if name == "pyproject.toml" and first_pyproject is None:
                first_pyproject = candidate
            settings = pytest_config_in(candidate)
            if settings is not None:
                return base, settings
    if first_pyproject is not None:
        return first_pyproject.parent, {}
    return start, {}


def find_project(
    start: Path | None = None,
    *,
    rootdir: Path | None = None,
    overrides: Mapping[str, str] | None = None,
) -> Project:
    """The rootdir pytest would choose from ``start`` and the snapshot folder it configures.

    The snapshot folder is the ini value ``agentrig_snapshot_dir`` (relative to the rootdir)
    if set — in ``overrides`` (``-o``) first, then the config file — else ``snapshots/``.
    """
    base = (start or Path.cwd()).resolve()
    found_root, settings = _locate_config(base)
    root = rootdir.resolve() if rootdir is not None else found_root
    value: object = (overrides or {}).get(SNAPSHOT_DIR_INI, settings.get(SNAPSHOT_DIR_INI))
    if isinstance(value, list):
        value = value[0] if value else None
    snapshot_dir = str(value).strip() if value is not None else ""
    return Project(root, project_snapshot_folder(root, snapshot_dir))


def project_snapshot_folder(root: Path, value: str | None) -> Path:
    """The plugin's own rule (``agentrig._layout``): never a folder the plugin would refuse."""
    try:
        return snapshot_folder(root, value)
    except ConfigurationError as exc:
        raise Unusable(str(exc)) from None
