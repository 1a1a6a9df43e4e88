"""The three-valued logic of the rule language: one truth table that every route reads.

A test that had nothing to read is *unknown* (``None``) beside true and false.
Groups and quantifiers combine their children with Kleene's strong three-valued
logic: the logic of SQL's AND / OR / NOT with NULL as unknown (PostgreSQL
documentation, section 9.1 "Logical Operators", truth tables) and of CQL's
logical operators (HL7 Clinical Quality Language 1.5, Author's Guide, Table 2-I):

* ``all``: false if any child is false, else unknown if any is unknown, else true;
* ``any``: true if any child is true, else unknown if any is unknown, else false;
* ``not``: true and false swap, unknown stays unknown;
* ``first_known``: the first child that is not unknown, else unknown (SQL COALESCE);
* ``exists`` (a quantifier over records): ``any`` over the matching records'
  ``where`` values; ``every``: ``all`` over them; without ``where`` every matching
  record counts as true; no matching record gives the quantifier's ``absent``
  value (false, or unknown).

The engine's evaluators (:mod:`screener.engine.explain`,
:mod:`screener.engine.outcome`) and the SQL compiler (:mod:`screener.vectorized.sql`)
take their meaning from :data:`GROUPS` and :data:`QUANTIFIERS`;
``tests/model/test_logic.py`` runs every combination of up to three children
through each against :func:`combine`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from screener.results import Outcome

Truth: TypeAlias = bool | None


@dataclass(frozen=True)
class GroupLogic:
    """How one group combines its children's values."""

    name: str
    #: the value that settles the group as soon as one child has it (its evidence alone
    #: explains the group); None: no such value (``not``, ``first_known``)
    decisive: bool | None
    combine: Callable[[Sequence[Truth]], Truth]
    sql: str  # the SQL connective: AND / OR (Kleene in SQL), NOT, COALESCE
    words: str  # in rule reports: "all of: a; b"
    #: the children's order never changes the value (``all``, ``any``; ``not`` has one
    #: child): two trees that differ only in that order are the same test (the linter's
    #: :func:`screener.audit.lint.canonical`); ``tests/model/test_logic.py`` checks the flag
    #: against :attr:`combine` on every ordering
    unordered: bool


def _settled_by(decisive: bool) -> Callable[[Sequence[Truth]], Truth]:
    def combine(values: Sequence[Truth]) -> Truth:
        if decisive in values:
            return decisive
        if None in values:
            return None
        return not decisive

    return combine


def _not(values: Sequence[Truth]) -> Truth:
    (value,) = values
    return None if value is None else not value


def _first_known(values: Sequence[Truth]) -> Truth:
    for value in values:
        if value is not None:
            return value
    return None


GROUPS: dict[str, GroupLogic] = {
    g.name: g
    for g in (
        GroupLogic("all", False, _settled_by(False), "AND", "all of", unordered=True),
        GroupLogic("any", True, _settled_by(True), "OR", "any of", unordered=True),
        GroupLogic("not", None, _not, "NOT", "not", unordered=True),
        GroupLogic("first_known", None, _first_known, "COALESCE", "the first known of", unordered=False),
    )
}

#: A quantifier over records reads as this group over the records' ``where`` values.
QUANTIFIERS: dict[str, str] = {"exists": "any", "every": "all"}

#: A quantifier's ``absent`` value (no matching record), as written in a rule file.
ABSENT: dict[str, Truth] = {"false": False, "unknown": None}


def combine(op: str, values: Sequence[Truth]) -> Truth:
    """The value of group ``op`` over its children's ``values``."""
    return GROUPS[op].combine(values)


def quantify(quantifier: str, values: Sequence[Truth], absent: str) -> Truth:
    """The value of a quantifier over its matching records' ``where`` values (each true
    where there is no ``where``); no matching record gives its ``absent`` value."""
    if not values:
        return ABSENT[absent]
    return combine(QUANTIFIERS[quantifier], values)


def criterion_outcome(criterion_type: str, value: Truth) -> Outcome:
    """A criterion's outcome from its test's value: an inclusion passes when its test
    holds, an exclusion fails when its test holds; unknown stays unknown."""
    if value is None:
        return "unknown"
    return ("pass" if value else "fail") if criterion_type == "inclusion" else ("fail" if value else "pass")
