"""The drift classes and what the user configures about them: which classes fail, tolerances."""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal, TypeAlias

from agentrig._errors import ConfigurationError

__all__ = [
    "DRIFT_CLASSES",
    "FIELD_SEP",
    "MAX_VALUE_DEPTH",
    "PATH_SEP",
    "DriftClass",
    "DriftConfig",
    "Operation",
    "Severity",
    "Tolerance",
    "is_number",
]


DriftClass: TypeAlias = Literal["structure", "decision", "text", "usage-cost", "timing", "error"]
Severity: TypeAlias = Literal["fail", "info"]
Operation: TypeAlias = Literal["changed", "added", "removed", "reordered"]

#: Every class of change, in the order reports list them.
DRIFT_CLASSES: Final[tuple[DriftClass, ...]] = (
    "structure",
    "decision",
    "text",
    "usage-cost",
    "timing",
    "error",
)
_NUMERIC_CLASSES: Final = ("usage-cost", "timing")

PATH_SEP: Final = " › "
FIELD_SEP: Final = " · "
MAX_VALUE_DEPTH: Final = 64


def _valid_classes() -> str:
    return ", ".join(DRIFT_CLASSES)


def is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# --- configuration ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tolerance:
    """How far a number may move before it counts as drift.

    A change from ``e`` to ``r`` is tolerated when ``|r - e| <= abs`` or
    ``|r - e| <= rel * max(|e|, |r|)``.

    Args:
        abs: absolute tolerance (same unit as the field: tokens, USD, virtual seconds).
        rel: relative tolerance (``0.05`` is 5 %).
    """

    abs: float = 0.0
    rel: float = 0.0

    def __post_init__(self) -> None:
        for name in ("abs", "rel"):
            value = getattr(self, name)
            if not is_number(value) or not math.isfinite(value) or value < 0:
                raise ConfigurationError(
                    f"Tolerance `{name}` must be a finite number >= 0, got {value!r}"
                )

    def allows(self, expected: float, received: float) -> bool:
        """Whether moving from ``expected`` to ``received`` stays within this tolerance."""
        diff = math.fabs(received - expected)
        return diff <= self.abs or diff <= self.rel * max(math.fabs(expected), math.fabs(received))

    def __str__(self) -> str:
        parts = [f"abs={self.abs:g}"] if self.abs else []
        if self.rel:
            parts.append(f"rel={self.rel:g}")
        return ",".join(parts) or "abs=0"


@dataclass(frozen=True, slots=True, init=False)
class DriftConfig:
    """Which classes of change fail, and which numeric changes are tolerated.

    Args:
        fail_on: the classes that fail (default: all of :data:`DRIFT_CLASSES`). Changes of other
            classes are reported as ``info``.
        tolerances: a :class:`Tolerance` per *class* (``"usage-cost"``, ``"timing"``) or per
            *field glob* (``"gen_ai.usage.*"``, ``"*tokens"``, ``"duration"``), matched against
            the field's full name and against its last dotted part. A field glob wins over a
            class; among globs the first that matches wins.

    Raises:
        ConfigurationError: an unknown class, or a class tolerance for a class that is not
            numeric.
    """

    fail_on: frozenset[str]
    tolerances: Mapping[str, Tolerance] = field(hash=False)

    def __init__(
        self,
        *,
        fail_on: Iterable[str] = DRIFT_CLASSES,
        tolerances: Mapping[str, Tolerance] | None = None,
    ) -> None:
        classes = frozenset({fail_on} if isinstance(fail_on, str) else fail_on)
        unknown = sorted(c for c in classes if c not in DRIFT_CLASSES)
        if unknown:
            raise ConfigurationError(
                f"DriftConfig `fail_on` has unknown class(es) {', '.join(map(repr, unknown))}; "
                f"valid classes are {_valid_classes()}"
            )
        checked: dict[str, Tolerance] = {}
        for key, tol in dict(tolerances or {}).items():
            if not isinstance(key, str) or not key.strip():
                raise ConfigurationError(
                    f"DriftConfig `tolerances` keys must be class names or field globs, got {key!r}"
                )
            if not isinstance(tol, Tolerance):
                raise ConfigurationError(
                    f"DriftConfig `tolerances[{key!r}]` must be a Tolerance, got {tol!r}"
                )
            if key in DRIFT_CLASSES and key not in _NUMERIC_CLASSES:
                raise ConfigurationError(
                    f"DriftConfig tolerance for {key!r}: tolerances apply to numbers, so to the "
                    f"classes {', '.join(_NUMERIC_CLASSES)} or to field globs"
                )
            checked[key.strip()] = tol
        object.__setattr__(self, "fail_on", classes)
        object.__setattr__(self, "tolerances", MappingProxyType(checked))

    @classmethod
    def from_strings(
        cls,
        *,
        fail_on: str | Iterable[str] | None = None,
        tolerance: str | Iterable[str] | None = None,
    ) -> DriftConfig:
        """Build a config from ini / marker / command-line strings.

        Args:
            fail_on: class names separated by commas or whitespace (``"structure,decision,
                error"``), or ``"all"`` (the default) or ``"none"``; a list of such strings
                (an ini ``linelist``) is joined.
            tolerance: ``TARGET:SPEC`` items separated by commas, semicolons or newlines, where
                TARGET is a class or a field glob and SPEC is ``abs=N`` and/or ``rel=N`` (``rel``
                also takes a percentage): ``"usage-cost:rel=0.05,timing:abs=0.5"``,
                ``"gen_ai.usage.*:abs=10,rel=5%"``.

        Raises:
            ConfigurationError: naming the bad item and listing what is valid.
        """
        return cls(fail_on=_parse_fail_on(fail_on), tolerances=_parse_tolerances(tolerance))

    def tolerance_for(self, drift_class: str, field_name: str | None) -> Tolerance | None:
        """The tolerance that applies to a change of this class in this field, if any."""
        if field_name:
            leaf = field_name.rsplit(".", 1)[-1]
            for key, tol in self.tolerances.items():
                if key in DRIFT_CLASSES:
                    continue
                if fnmatch.fnmatchcase(field_name, key) or fnmatch.fnmatchcase(leaf, key):
                    return tol
        return self.tolerances.get(drift_class)


def _joined(value: str | Iterable[str] | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return "\n".join(str(v) for v in value)


def _parse_fail_on(value: str | Iterable[str] | None) -> frozenset[str]:
    text = _joined(value).strip()
    if value is None or text.lower() == "all":
        return frozenset(DRIFT_CLASSES)
    names = [n for n in re.split(r"[\s,;]+", text) if n]
    if not names:
        raise ConfigurationError(
            f"fail_on is empty; give class names ({_valid_classes()}), 'all' or 'none'"
        )
    if [n.lower() for n in names] == ["none"]:
        return frozenset()
    unknown = [n for n in names if n not in DRIFT_CLASSES]
    if unknown:
        raise ConfigurationError(
            f"fail_on={text!r}: unknown class(es) {', '.join(map(repr, unknown))}; valid classes "
            f"are {_valid_classes()} (or 'all', 'none')"
        )
    return frozenset(names)


def _parse_number(text: str, item: str, *, percent: bool) -> float:
    scale = 1.0
    as_percent = percent and text.endswith("%")
    if as_percent:
        text, scale = text[:-1], 0.01
    try:
        value = float(text) * scale
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ConfigurationError(
            f"tolerance {item!r}: {text!r} is not a number >= 0; write e.g. "
            "'usage-cost:rel=0.05' or 'timing:abs=0.5'"
        )
    if percent and not as_percent and value > 1:
        # ``rel=5`` would silently mean 500 %: say which of the two was meant.
        raise ConfigurationError(
            f"tolerance {item!r}: rel={text} would allow a {value:g}x ({value:.0%}) change; "
            f"write rel={text}% for {text} percent or rel={value / 100:g} (a fraction of 1)"
        )
    return value


def _parse_tolerances(value: str | Iterable[str] | None) -> dict[str, Tolerance]:
    text = _joined(value)
    result: dict[str, Tolerance] = {}
    target: str | None = None
    spec: dict[str, float] = {}

    def flush() -> None:
        if target is not None:
            result[target] = Tolerance(**spec)

    for raw in re.split(r"[,;\n]+", text):
        item = raw.strip()
        if not item:
            continue
        head, sep, tail = item.rpartition(":")
        if sep:
            flush()
            target, spec = head.strip(), {}
            if not target:
                raise ConfigurationError(
                    f"tolerance {item!r} has no target before ':'; write CLASS_OR_FIELD:abs=N "
                    f"or :rel=N, where CLASS is one of {', '.join(_NUMERIC_CLASSES)}"
                )
            if target in DRIFT_CLASSES and target not in _NUMERIC_CLASSES:
                raise ConfigurationError(
                    f"tolerance {item!r}: {target!r} is not numeric; tolerances apply to "
                    f"{', '.join(_NUMERIC_CLASSES)} or to field globs"
                )
            item_spec = tail.strip()
        elif target is None:
            raise ConfigurationError(
                f"tolerance {item!r} names no class or field; write e.g. 'usage-cost:rel=0.05' "
                f"(classes: {', '.join(_NUMERIC_CLASSES)}; or a field glob like 'gen_ai.usage.*')"
            )
        else:
            item_spec = item
        name, eq, number = item_spec.partition("=")
        name = name.strip().lower()
        if not eq or name not in ("abs", "rel"):
            raise ConfigurationError(
                f"tolerance {item!r}: expected abs=N or rel=N after the target, got "
                f"{item_spec!r}; e.g. 'usage-cost:rel=0.05,timing:abs=0.5'"
            )
        spec[name] = _parse_number(number.strip(), item, percent=name == "rel")
    flush()
    return result
