"""The registry of Elasticsearch EQL functions: one table that parser, checks and compilers share.

Names resolve case-insensitively (`cidrmatch` is `cidrMatch`), as Elasticsearch resolves them.
"""

from __future__ import annotations

from dataclasses import dataclass

from lanner.eql.types import NUMERIC, Kind

_STRING = frozenset({Kind.STRING})
_INTEGER = frozenset({Kind.INTEGER, Kind.NUMBER})
_NUMBER = NUMERIC
_BOOLEAN = frozenset({Kind.BOOLEAN})
_IP = frozenset({Kind.IP, Kind.STRING})
_SCALAR = frozenset(set(Kind) - {Kind.OBJECT})


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter: the kinds it takes and whether it must be a literal."""

    name: str
    kinds: frozenset[Kind]
    constant: bool = False


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    name: str
    params: tuple[Param, ...]
    returns: Kind
    min_args: int
    variadic: bool = False  # the last parameter repeats
    case_insensitive: bool = False  # has a `name~` form
    arithmetic: bool = False  # result kind follows the operands, as for `+ - * / %`

    @property
    def max_args(self) -> int | None:
        return None if self.variadic else len(self.params)

    def param_for(self, index: int) -> Param:
        return self.params[min(index, len(self.params) - 1)]

    def arity_text(self) -> str:
        if self.variadic:
            return f"at least {self.min_args}"
        if self.min_args == len(self.params):
            return f"exactly {self.min_args}"
        return f"{self.min_args} to {len(self.params)}"


def _math(name: str) -> FunctionSpec:
    return FunctionSpec(name, (Param("left", _NUMBER), Param("right", _NUMBER)), Kind.NUMBER, 2,
                        arithmetic=True)


FUNCTIONS: dict[str, FunctionSpec] = {
    spec.name.lower(): spec
    for spec in (
        _math("add"),
        _math("subtract"),
        _math("multiply"),
        _math("divide"),
        _math("modulo"),
        FunctionSpec(
            "between",
            (Param("source", _STRING), Param("left", _STRING), Param("right", _STRING),
             Param("greedy", _BOOLEAN, constant=True)),
            Kind.STRING, 3, case_insensitive=True),
        FunctionSpec(
            "cidrMatch", (Param("ip", _IP), Param("cidr", _STRING, constant=True)),
            Kind.BOOLEAN, 2, variadic=True),
        FunctionSpec("concat", (Param("value", _SCALAR),), Kind.STRING, 1, variadic=True),
        FunctionSpec(
            "endsWith", (Param("source", _STRING), Param("substring", _STRING)),
            Kind.BOOLEAN, 2, case_insensitive=True),
        FunctionSpec(
            "indexOf",
            (Param("source", _STRING), Param("substring", _STRING), Param("start", _INTEGER)),
            Kind.INTEGER, 2, case_insensitive=True),
        FunctionSpec("length", (Param("source", _STRING),), Kind.INTEGER, 1),
        FunctionSpec(
            "number", (Param("source", _STRING), Param("base", _INTEGER)), Kind.NUMBER, 1),
        FunctionSpec(
            "startsWith", (Param("source", _STRING), Param("prefix", _STRING)),
            Kind.BOOLEAN, 2, case_insensitive=True),
        FunctionSpec("string", (Param("value", _SCALAR),), Kind.STRING, 1),
        FunctionSpec(
            "stringContains", (Param("source", _STRING), Param("substring", _STRING)),
            Kind.BOOLEAN, 2, case_insensitive=True),
        FunctionSpec(
            "substring",
            (Param("source", _STRING), Param("start", _INTEGER), Param("end", _INTEGER)),
            Kind.STRING, 2),
    )
}

# Functions of the endgame `eql` dialect that Elasticsearch does not have.
FOREIGN_FUNCTIONS: dict[str, str] = {
    name.lower(): name
    for name in ("arrayContains", "arrayCount", "arraySearch", "match", "matchLite", "safe",
                 "wildcard", "lookup")
}


def lookup(name: str) -> FunctionSpec | None:
    return FUNCTIONS.get(name.lower())
