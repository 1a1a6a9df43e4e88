"""Derived values: a named clinical function over the facts a derived rule matched.

A derived rule fires once its inputs are there (:mod:`screener.engine.compile`);
this computes the value with the function of :data:`screener.clinical.FUNCTIONS`
and returns it as a new fact for the session (forward chaining). An input that
is missing leaves the value unasserted (unknown); a function that refuses its
inputs (out of range, wrong type...) leaves it unknown with the reason, which
the explanation names (:mod:`screener.engine.explain`).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from screener.clinical import FUNCTIONS
from screener.derivation import DERIVATION_ERRORS, rounded
from screener.engine.names import (
    CONTEXT,
    KIND_EXPOSURE_VALUE,
    KIND_FACT,
    RECORD,
    VALUE_OF,
    derive_error_key,
    derived_fact_id,
    input_pattern,
)
from screener.model.rules import Derived, RuleSet

if TYPE_CHECKING:
    from screener.engine.glue import Fired


class Deriver:
    """Computes the derived values of one rule set."""

    def __init__(self, ruleset: RuleSet, fields: frozenset[str]) -> None:
        self.ruleset = ruleset
        self._fields = fields  # what crosses into durable_rules (:func:`.glue.engine_fields`)

    def derive(
        self, d: Derived, matched: dict[str, dict[str, Any]], fired: Fired
    ) -> list[dict[str, Any]] | None:
        kwargs: dict[str, Any] = {}
        used: dict[str, dict[str, Any]] = {}
        defaults = dict(d.defaults)
        defaulted: list[str] = []
        for i in d.inputs:
            if i.source == "context":
                fact = matched[CONTEXT]
                value: Any = date.fromisoformat(fact["as_of"])
            elif i.source == "exposure":
                fact = matched[RECORD]
                value = fact.get(i.field or "")
            else:
                fact = matched[input_pattern(i.source)]
                value = fact.get(i.field) if i.field else fact.get("value")
                used[i.source] = fact
                if (
                    value is not None
                    and self.ruleset.facts.get(i.source)
                    and (self.ruleset.facts[i.source].type == "date" and not i.field)
                ):
                    value = date.fromisoformat(value)
            if value is None and i.param in defaults:
                value = defaults[i.param]
                defaulted.append(i.param)
            if value is None:
                return None  # an input is missing: the value stays unknown
            kwargs[i.param] = value
        function = FUNCTIONS[d.function]
        owner = matched[RECORD]["id"] if d.per == "exposure" else None
        try:
            result = function.fn(**kwargs)
        except DERIVATION_ERRORS as error:  # screener.derivation, rule 4: unknown on every route
            fired.derive_errors[derive_error_key(d.name, owner)] = str(error)
            return None
        result = rounded(result)  # screener.derivation, rule 5: as every route rounds it
        fact: dict[str, Any] = {
            "name": d.name,
            "value": result,
            "unit": d.unit or function.unit,
            "function": d.function,
            "inputs": {k: (v.isoformat() if isinstance(v, date) else v) for k, v in kwargs.items()},
            "input_facts": sorted(f["id"] for f in used.values()),
            "defaulted": defaulted,
        }
        if owner is None:
            fact.update(kind=KIND_FACT, id=derived_fact_id(d.name))
        else:
            fact.update(kind=KIND_EXPOSURE_VALUE, id=derived_fact_id(d.name, owner), **{VALUE_OF: owner})
        fired.facts[fact["id"]] = fact
        # The engine gets what its rules and actions read only (flat scalars): no rule
        # matches the explanation fields, and less JSON crosses into the C core.
        return [{k: v for k, v in fact.items() if k in self._fields}]
