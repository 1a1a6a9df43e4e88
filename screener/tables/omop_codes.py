"""The code mapping of an OMOP extract as joined tables (issue 17 §1): each distinct concept key
is classified once, with the Python importer's own methods, and the answers go to DuckDB.

The keys are the row fields the importer's answer depends on (a condition's concept, source
concept and source value; a drug's, plus its route...), so a key's answer is the answer of
every row holding it: hierarchy (CONCEPT_ANCESTOR), "Maps to" (CONCEPT_RELATIONSHIP), drug
strength (DRUG_STRENGTH), RxNorm names and the text safety net are the same code as in
:mod:`screener.importers.omop`. Values that go through units (a lab value in its unit, a
daily dose) are converted per distinct (name, value, unit) by :mod:`screener.units`, as the
patient loader converts them. ``kind`` ``complex`` marks what the SQL does not assemble (a
status, a coded answer, a blood gas...): its person goes to the Python path.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from screener import units
from screener.errors import Location, PatientDataError
from screener.importers.core import ImportLog, parse_number
from screener.importers.fhir import route_of
from screener.importers.fhir.oxygen import BLOOD_GASES
from screener.importers.mapping import ContraceptionTarget, Mapping, NotCriterion, also_item
from screener.importers.omop import DEFAULT_SOURCE_VOCABULARIES
from screener.importers.omop_convert import Concept, _OmopConverter
from screener.importers.omop_details import outcome_of_stop_reason
from screener.model.patient import _reference_range
from screener.model.vocabulary import known_vocabulary
from screener.terminology.omop_vocab import ExtractVocabulary


def register(con: Any, name: str, columns: dict[str, str], rows: Iterable[tuple[Any, ...]]) -> None:
    """``rows`` as the DuckDB table ``name`` with ``columns`` (name -> SQL type)."""
    import numpy as np

    rows = list(rows)
    names = list(columns)
    arrays: dict[str, Any] = {}
    for i, column in enumerate(names):
        values = [r[i] for r in rows]
        arrays[column] = np.array([*values, None], dtype=object)[:-1]  # keep a 1-D object array
    view = f"{name}__view"
    con.register(view, arrays)
    try:
        select = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in columns.items())
        if rows:
            con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT {select} FROM {view}")
        else:
            typed = ", ".join(f'"{c}" {t}' for c, t in columns.items())
            con.execute(f"CREATE OR REPLACE TABLE {name} ({typed})")
    finally:
        con.unregister(view)


def _known(kind: str, name: str) -> bool:
    """Whether the patient loader knows ``name`` (a name it does not know is an error there,
    which the Python path reports: the person goes to it)."""
    return name in known_vocabulary().get(kind)


def _method(target: ContraceptionTarget) -> tuple[str, str, str]:
    return target.method, target.event, target.display


class Codes:
    """Classifies an extract's distinct keys with one :class:`_OmopConverter`."""

    def __init__(
        self,
        mapping: Mapping,
        files: dict[str, Path],
        concepts: dict[str, Concept],
        vocabulary: ExtractVocabulary,
    ) -> None:
        self.mapping = mapping
        self.converter = _OmopConverter(
            mapping,
            ImportLog("omop-cdm", mapping.file),  # the report is not part of the tables
            files,
            concepts,
            dict(DEFAULT_SOURCE_VOCABULARIES),
            vocabulary,
        )
        self.concepts = concepts

    # ------------------------------------------------------------------ concepts

    def conditions(self, keys: Iterable[tuple[str, str, str]]) -> list[tuple[Any, ...]]:
        """(a, b, c) = condition concept, source concept, source value -> one row per native
        condition the record gives: (a, b, c, kind, k, name, type, status, verification)."""
        cv, out = self.converter, []
        for a, b, c in keys:
            row = {"condition_concept_id": a, "condition_source_concept_id": b, "condition_source_value": c}
            cands = cv._candidates("condition_occurrence", row, "condition")
            found = self.mapping.classify_condition(cands, c, cv._ancestors(row, "condition"))
            if found is None or isinstance(found, NotCriterion):
                out.append((a, b, c, "list", 0, None, None, None, None))
                continue
            item: dict[str, Any] = {
                "name": found.name,
                "type": found.type,
                "status": found.status or "active",
            }
            if found.verification == "unconfirmed":
                item["verification"] = "unconfirmed"
            items = [item] + [also_item(item, extra) for extra in found.also]
            if not all(_known("condition", it["name"]) for it in items):
                out.append((a, b, c, "complex", 0, None, None, None, None))
                continue
            for k, it in enumerate(items):
                out.append(
                    (
                        a,
                        b,
                        c,
                        "target",
                        k,
                        it["name"],
                        it.get("type"),
                        it.get("status"),
                        it.get("verification"),
                    )
                )
        return out

    def drugs(self, keys: Iterable[tuple[str, str, str, str, str]]) -> list[tuple[Any, ...]]:
        """(drug concept, source concept, source value, route concept, route source value) ->
        (..., kind, drug, strength_mg, route)."""
        cv, out = self.converter, []
        for a, b, c, rc, rs in keys:
            row = {
                "drug_concept_id": a,
                "drug_source_concept_id": b,
                "drug_source_value": c,
                "route_concept_id": rc,
                "route_source_value": rs,
            }
            cands = cv._candidates("drug_exposure", row, "drug")
            method = cv._contraceptive(cands)
            if method is not None:  # a method in place (and a medication no criterion reads)
                out.append((a, b, c, rc, rs, "contraceptive", None, None, None, *_method(method)))
                continue
            target = cv._drug_target(row, cands)
            if target is None:
                out.append((a, b, c, rc, rs, "list", None, None, None, None, None, None))
                continue
            if not _known("drug", target.drug):
                out.append((a, b, c, rc, rs, "complex", None, None, None, None, None, None))
                continue
            route_name = self.concepts.get(rc, ("", "", ""))[2]
            route = target.route or route_of(route_name or rs)
            out.append((a, b, c, rc, rs, "target", target.drug, target.strength_mg, route, None, None, None))
        return out

    def measurements(self, keys: Iterable[tuple[str, str, str, str]]) -> list[tuple[Any, ...]]:
        """(table, concept, source concept, source value) -> (..., kind, name, method): kind
        ``numeric`` (a plain number), ``none`` (unmapped, or an inhaled-oxygen state that only
        a blood gas would read) or ``complex``."""
        cv, out = self.converter, []
        for table, a, b, c in keys:
            row = {f"{table}_concept_id": a, f"{table}_source_concept_id": b, f"{table}_source_value": c}
            cands = cv._candidates(table, row, table)
            target, status, assessment, classified, oxygen = cv.measurement_kind(table, cands)
            if oxygen is not None or not (target or status or assessment or classified):
                out.append((table, a, b, c, "none", None, None))
            elif target is not None and not (status or assessment or classified):
                plain = not target.coded and target.name not in BLOOD_GASES
                plain = plain and _known("observation", target.name)
                kind = "numeric" if plain else "complex"
                out.append((table, a, b, c, kind, target.name, target.method))
            else:
                out.append((table, a, b, c, "complex", None, None))
        return out

    def procedures(self, keys: Iterable[tuple[str, str, str]]) -> list[tuple[Any, ...]]:
        """(concept, source concept, source value) -> (..., kind, method, event, display): kind
        ``contraceptive`` (a method put in place or taken out) or ``none``."""
        cv, out = self.converter, []
        for a, b, c in keys:
            row = {"procedure_concept_id": a, "procedure_source_concept_id": b, "procedure_source_value": c}
            method = cv._contraceptive(cv._candidates("procedure_occurrence", row, "procedure"))
            if method is None:
                out.append((a, b, c, "none", None, None, None))
            else:
                out.append((a, b, c, "contraceptive", *_method(method)))
        return out

    def units(self, keys: Iterable[tuple[str, str]]) -> list[tuple[str, str, str]]:
        """(unit concept, unit source value) -> (..., unit): the importer's ``_unit``."""
        return [(a, b, self.converter._unit({"unit_concept_id": a, "unit_source_value": b})) for a, b in keys]

    def operators(self, keys: Iterable[str]) -> list[tuple[str, bool]]:
        """operator concept -> whether the value is read (none, or ``=``; censored ones are not)."""
        return [
            (op, op in ("", "0") or self.concepts.get(op, ("", "", "?"))[2].strip() == "=") for op in keys
        ]

    # ------------------------------------------------------------------ values

    @staticmethod
    def values(keys: Iterable[tuple[str, str, str]]) -> list[tuple[Any, ...]]:
        """(name, value_as_number, unit) -> (..., number_ok, unit_ok, value, unit) as the builder
        checks and the patient loader stores them (canonical unit, plausible)."""
        out = []
        for name, text, unit in keys:
            try:
                number = parse_number(text) if text else None
            except ValueError:
                number = None
            if number is None:
                out.append((name, text, unit, False, False, None, None))
                continue
            if name not in units.CANONICAL:
                out.append((name, text, unit, True, True, number, unit or None))
                continue
            try:
                converted = units.normalize(name, float(number), unit) if unit else None
            except (units.UnitError, ValueError, TypeError):
                converted = None
            if converted is None or units.plausibility_problem(name, converted):
                out.append((name, text, unit, True, False, None, None))
            else:
                out.append((name, text, unit, True, True, converted, units.CANONICAL[name]))
        return out

    @staticmethod
    def ranges(keys: Iterable[tuple[str, str, str, str]]) -> list[tuple[Any, ...]]:
        """(name, unit, range_low, range_high) -> (..., ok, low, high): the reference range the
        importer reads (a bound that is not a number is left out) and the loader stores (in the
        value's canonical unit); ok False: a range the loader refuses (negative, inverted)."""
        out = []
        for name, unit, low_text, high_text in keys:
            bounds: dict[str, float] = {}
            for text, key in ((low_text, "low"), (high_text, "high")):
                if text:
                    with contextlib.suppress(ValueError):  # the importer warns, leaves it out
                        bounds[key] = parse_number(text)
            if not bounds:
                out.append((name, unit, low_text, high_text, True, None, None))
                continue
            item = {"name": name, "unit": unit or None, "reference_range": bounds}
            try:
                low, high = _reference_range(item, Location("<omop>"))
            except PatientDataError:
                out.append((name, unit, low_text, high_text, False, None, None))
                continue
            out.append((name, unit, low_text, high_text, True, low, high))
        return out

    @staticmethod
    def doses(keys: Iterable[tuple[float, str, str]]) -> list[tuple[Any, ...]]:
        """(strength mg, quantity, days supply) -> (..., ok, dose_mg): the importer's daily dose,
        stored as the loader stores it (None: no dose; ok False: a dose the loader refuses)."""
        out = []
        for strength, quantity, days in keys:
            try:
                q = parse_number(quantity) if quantity else 0.0
                d = parse_number(days) if days else 0.0
            except ValueError:
                q = d = 0.0
            if not (strength and q > 0 and d > 0):
                out.append((strength, quantity, days, True, None))
                continue
            dose = round(q * strength / d, 6)
            try:
                mg = units.normalize("dose", dose, "mg")
            except (units.UnitError, ValueError, TypeError):
                out.append((strength, quantity, days, False, None))
                continue
            ok = units.plausibility_problem("dose", mg) is None
            out.append((strength, quantity, days, ok, mg if ok else None))
        return out

    @staticmethod
    def stop_reasons(keys: Iterable[str]) -> list[tuple[str, str | None]]:
        """stop_reason text -> the outcome it states (None: none, or not clear)."""
        return [(text, outcome_of_stop_reason(text)[0]) for text in keys]
