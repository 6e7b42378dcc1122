import math

import pytest

from iclbook.chapters import CHAPTERS, get
from iclbook.notebook import open_chapter
from iclbook.profiles import Param, ParameterError, ParamSpec

SPEC = ParamSpec(
    (
        Param("d", int, {"ci": 4, "cpu": 8, "gpu": 16}, "dimension", low=2, high=64),
        Param("lr", float, {"ci": 0.1, "cpu": 0.1, "gpu": 0.01}, "step size", low=1e-6, high=1.0),
        Param("act", str, {"ci": "relu", "cpu": "gelu", "gpu": "gelu"}, "activation", choices=("relu", "gelu")),
        Param("Ms", int, {"ci": [1, 4], "cpu": [1, 4, 16], "gpu": [1, 4]}, "pool sizes", low=1, is_list=True),
        Param("fast", bool, {"ci": True, "cpu": False, "gpu": False}, "a switch"),
    ),
    checks=(lambda v: "parameter 'd': must be even" if v["d"] % 2 else None,),
)


def test_profile_values_and_overrides():
    P = SPEC.resolve("cpu")
    assert (P.d, P.act, P.Ms, P.profile) == (8, "gelu", [1, 4, 16], "cpu")
    P = SPEC.resolve("ci", {"d": 16, "lr": 1, "act": None})  # None keeps the profile's value; int -> float
    assert (P.d, P.lr, P.act, P.overridden) == (16, 1.0, "relu", ("d", "lr"))
    assert isinstance(P.lr, float)
    assert SPEC.resolve("ci", {"d": 6.0}).d == 6  # a whole float (YAML) is an int


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"dd": 3}, "unknown parameter(s) 'dd'"),
        ({"d": "8"}, "parameter 'd': got '8', allowed: int in [2, 64]"),
        ({"d": 1}, "parameter 'd': got 1, allowed: int in [2, 64]"),
        ({"d": 2.5}, "parameter 'd'"),
        ({"d": True}, "parameter 'd'"),
        ({"lr": 2.0}, "parameter 'lr': got 2.0"),
        ({"lr": math.nan}, "parameter 'lr'"),
        ({"act": "tanh"}, "allowed: one of 'relu', 'gelu'"),
        ({"Ms": 4}, "parameter 'Ms': got 4, allowed: a list"),
        ({"Ms": [1, 0]}, "parameter 'Ms'"),
        ({"Ms": []}, "parameter 'Ms'"),
        ({"fast": 1}, "parameter 'fast'"),
        ({"d": 9}, "parameter 'd': must be even"),
    ],
)
def test_each_kind_of_violation_names_the_parameter(overrides, fragment):
    with pytest.raises(ParameterError) as err:
        SPEC.resolve("ci", overrides)
    assert fragment in str(err.value)


def test_unknown_profile():
    with pytest.raises(ParameterError, match="parameter 'profile': got 'laptop', allowed: one of ci, cpu, gpu"):
        SPEC.resolve("laptop")


def test_bad_declaration_is_caught():
    with pytest.raises(ValueError, match="no value for profile"):
        Param("x", int, {"ci": 1, "cpu": 1}, "x")
    with pytest.raises(ParameterError, match="profile 'gpu' of parameter 'x'"):
        Param("x", int, {"ci": 1, "cpu": 1, "gpu": 0}, "x", low=1)


def test_every_chapter_declares_valid_profiles():
    for ch in CHAPTERS:
        for profile in ("ci", "cpu", "gpu"):
            ch.params.resolve(profile)
        assert ch.source.exists(), ch.source


def test_notebook_resolve_rejects_unknown_injected_names(monkeypatch):
    ns = {"__name__": "__main__", "In": [], "_i1": ""}
    ch = open_chapter("01", ns)
    ns.update({name: None for name in get("01").params.names}, profile="ci")
    ns["dd"] = 16  # what papermill injects for `-p dd 16`
    with pytest.raises(ParameterError, match="unknown parameter.*'dd'.*allowed: profile, d, N"):
        ch.resolve(ns)
    del ns["dd"]
    ns["d"] = 16
    P = ch.resolve(ns)
    assert P.d == 16 and P.profile == "ci"


def test_chapter_checks_catch_grids_a_chapter_cannot_fit():
    """Cross-parameter rules of the chapters stop a run before training, naming the parameter."""
    from iclbook.chapters import get

    with pytest.raises(ParameterError, match=r"parameter 'T_grid'.*at least two values >= 16·d² = 16384 at d = 32"):
        get("01").params.resolve("gpu", {"T_grid": [64, 256, 1024]})
    assert get("01").params.resolve("ci", {"d": 16}).d == 16  # 4096 and 16384 lie on the tail
    with pytest.raises(ParameterError, match=r"parameter 'T_grid'.*>= 16·d² = 16384 at d = 32"):
        get("01").params.resolve("ci", {"d": 32})
    assert get("01").params.resolve("ci", {"T_grid": [64, 1024, 4096]}).T_grid == [64, 1024, 4096]


def test_cli_reads_a_comma_list_as_a_list_that_the_chapter_accepts():
    from iclbook.chapters import get
    from iclbook.cli import _value

    assert _value("28,40") == [28, 40] and _value("[28, 40]") == [28, 40] and _value("2") == 2
    assert _value("rope") == "rope" and _value("true") is True
    assert get("04").params.resolve("cpu", {"n_ids": _value("28,40")}).n_ids == [28, 40]
