"""Named parameter profiles (``ci`` / ``cpu`` / ``gpu``) and the validation of chapter parameters.

A chapter declares each parameter once: its type, what values are allowed, and a value per profile.
Explicit values (papermill ``-p``, ``iclbook run -p``) override the profile. Anything wrong fails here,
before any training starts, with a message that names the parameter, the value and what is allowed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Iterable, Mapping

PROFILES = ("ci", "cpu", "gpu")


class ParameterError(ValueError):
    """A chapter parameter (or profile) that is unknown, of the wrong type, or out of range."""


@dataclass(frozen=True)
class Param:
    """One chapter parameter: ``kind`` is int, float, str or bool; ``item`` makes it a list of that kind."""

    name: str
    kind: type
    per_profile: Mapping[str, Any]  # a value for each of PROFILES
    doc: str
    low: float | None = None  # inclusive bounds for numbers (and list items)
    high: float | None = None
    choices: tuple | None = None
    is_list: bool = False  # a list of ``kind`` values (papermill passes lists with -y / JSON)
    min_len: int = 1

    def __post_init__(self) -> None:
        missing = [p for p in PROFILES if p not in self.per_profile]
        if missing:
            raise ValueError(f"parameter {self.name!r} has no value for profile(s) {missing}")
        for prof, value in self.per_profile.items():
            self.validate(value, where=f"profile {prof!r} of ")

    def allowed(self) -> str:
        """A short human description of the allowed values."""
        kind = self.kind.__name__
        if self.choices is not None:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        elif self.low is not None or self.high is not None:
            lo = "-inf" if self.low is None else _fmt(self.low, self.kind)
            hi = "inf" if self.high is None else _fmt(self.high, self.kind)
            text = f"{kind} in [{lo}, {hi}]"
        else:
            text = kind
        if self.is_list:
            return f"a list (length >= {self.min_len}) of {text if self.choices is None else text}"
        return text

    def validate(self, value: Any, where: str = "") -> Any:
        """Return ``value`` coerced to the parameter's type, or raise a ParameterError naming it."""
        if self.is_list:
            if isinstance(value, tuple):
                value = list(value)
            if not isinstance(value, list) or len(value) < self.min_len:
                raise self._error(value, where)
            return [self._validate_one(v, value, where) for v in value]
        return self._validate_one(value, value, where)

    def _validate_one(self, v: Any, whole: Any, where: str) -> Any:
        kind = self.kind
        if kind is bool:
            ok = isinstance(v, bool)
        elif kind is int:
            ok = isinstance(v, int) and not isinstance(v, bool)
            if isinstance(v, float) and v.is_integer():  # papermill / YAML may hand us 16.0
                v, ok = int(v), True
        elif kind is float:
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v)
            if ok:
                v = float(v)
        else:
            ok = isinstance(v, kind)
        if not ok:
            raise self._error(whole, where)
        if self.choices is not None and v not in self.choices:
            raise self._error(whole, where)
        if self.low is not None and v < self.low or self.high is not None and v > self.high:
            raise self._error(whole, where)
        return v

    def _error(self, value: Any, where: str) -> ParameterError:
        return ParameterError(f"{where}parameter {self.name!r}: got {value!r}, allowed: {self.allowed()}")


def param(name: str, kind: type, ci: Any, cpu: Any, gpu: Any, doc: str, **kw: Any) -> Param:
    """Shorthand for a chapter's declaration: ``param("d", int, 8, 8, 32, "dimension", low=2)``."""
    return Param(name, kind, {"ci": ci, "cpu": cpu, "gpu": gpu}, doc, **kw)


@dataclass(frozen=True)
class ParamSpec:
    """All parameters of one chapter."""

    params: tuple[Param, ...]
    checks: tuple = field(default=())  # callables (values) -> error message or None, for cross-parameter rules
    # callables (profile values, values, overridden names) -> {name: value}: a parameter left at its profile value
    # that should follow an overridden one (e.g. more steps for a larger p); explicit overrides always win
    derived: tuple = field(default=())

    def __post_init__(self) -> None:
        names = [p.name for p in self.params]
        if len(set(names)) != len(names) or "profile" in names:
            raise ValueError(f"duplicate or reserved parameter names in {names}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def __getitem__(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def resolve(self, profile: str | None, overrides: Mapping[str, Any] | None = None) -> "Params":
        """The profile's values with explicit ``overrides`` on top, all validated."""
        from .runtime import default_profile

        profile = default_profile() if profile is None else profile
        if profile not in PROFILES:
            raise ParameterError(f"parameter 'profile': got {profile!r}, allowed: one of {', '.join(PROFILES)}")
        overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
        unknown = sorted(set(overrides) - set(self.names))
        if unknown:
            raise ParameterError(
                f"unknown parameter(s) {', '.join(map(repr, unknown))}; "
                f"allowed: profile, {', '.join(self.names)}"
            )
        values = {}
        for p in self.params:
            if p.name in overrides:
                values[p.name] = p.validate(overrides[p.name])
            else:
                values[p.name] = p.per_profile[profile]
        base = {p.name: p.per_profile[profile] for p in self.params}
        derived: list[str] = []
        for rule in self.derived:
            for k, v in rule(base, values, set(overrides)).items():
                if k not in overrides:
                    values[k] = self[k].validate(v)
                    derived.append(k)
        for check in self.checks:
            message = check(values)
            if message:
                raise ParameterError(message)
        return Params(profile, values, tuple(sorted(overrides)), tuple(derived))


class Params:
    """Resolved, validated parameters; read them as attributes (``P.d``)."""

    def __init__(self, profile: str, values: Mapping[str, Any], overridden: Iterable[str] = (),
                 derived: Iterable[str] = ()) -> None:
        self.profile = profile
        self._values = MappingProxyType(dict(values))
        self.overridden = tuple(overridden)
        self.derived = tuple(derived)  # left at the profile's value but following an override (ParamSpec.derived)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    def __repr__(self) -> str:
        return f"Params(profile={self.profile!r}, {dict(self._values)})"


def _fmt(x: float, kind: type = float) -> str:
    if x == math.inf:
        return "inf"
    return str(int(x)) if kind is int else f"{x:g}"
