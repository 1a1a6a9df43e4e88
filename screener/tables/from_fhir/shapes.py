"""The code mapping as joined tables: each distinct shape classified once, in Python.

The SQL selects the DISTINCT values of the parts of a resource whose reading is a rule of the
Python importer (a CodeableConcept, a status, a Quantity without its value, a timing...), and
each distinct value is answered here **once**, by the same functions the Python importer calls
(:mod:`screener.importers.fhir`), so the hierarchy, RxNorm strength, terminology, text safety
net, unit and status rules are one code. The answers are registered as DuckDB tables keyed by
the JSON text and joined: a loop per distinct value, not per resource.

Each answer's ``action`` says what the SQL does with a resource of that shape: ``none`` (it
gives no row), ``skip`` (set aside by its status), ``row`` / ``other`` (a row, or the
"record has this list" marker), or ``python`` (a construct the SQL does not cover: the whole
patient goes to the Python importer).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

from screener import units
from screener.errors import Location, PatientDataError
from screener.importers.core import NativeBuilder, Origin, parse_number
from screener.importers.fhir.common import codings, text, unit
from screener.importers.fhir.contraception import contraceptive_of
from screener.importers.fhir.medications import dose_of, frequency_of, outcome_of, route_of
from screener.importers.fhir.observations import answer, sledai_named
from screener.importers.fhir.observations import reference_range as observation_reference_range
from screener.importers.fhir.oxygen import component_state, oxygen_code
from screener.importers.fhir.patient import read_sex
from screener.importers.fhir.status import (
    condition_set_aside,
    condition_status,
    condition_verification,
    medication_set_aside,
)
from screener.importers.mapping import Mapping, NotCriterion
from screener.model.patient import _reference_range


def _load(text_: str | None) -> Any:
    return None if text_ is None else json.loads(text_)


def register(con: Any, name: str, columns: Sequence[tuple[str, str]], rows: list[tuple[Any, ...]]) -> None:
    """Register ``rows`` as the temp table ``name`` with ``columns`` (name, SQL type)."""
    import numpy as np

    arrays = {col: np.array([row[i] for row in rows], dtype=object) for i, (col, _) in enumerate(columns)}
    view = f"{name}__py"
    con.register(view, arrays)
    try:
        select = ", ".join(f'CAST("{col}" AS {sql_type}) AS "{col}"' for col, sql_type in columns)
        if rows:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {select} FROM {view}")
        else:
            typed = ", ".join(f'"{col}" {sql_type}' for col, sql_type in columns)
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} ({typed})")
    finally:
        con.unregister(view)


def classify(
    con: Any,
    name: str,
    distinct_sql: str,
    keys: int,
    answer: Callable[..., tuple[Any, ...]],
    columns: Sequence[tuple[str, str]],
) -> int:
    """Answer each distinct row of ``distinct_sql`` (its first ``keys`` columns are the key)
    with ``answer``; an exception means the Python importer would fail on it (``python``)."""
    rows = []
    for key in con.execute(distinct_sql).fetchall():
        try:
            found = answer(*key)
        except Exception:  # the Python importer reports such a record: it reads the patient
            found = ("python",) + (None,) * (len(columns) - keys - 1)
        rows.append((*key, *found))
    register(con, name, columns, rows)
    return len(rows)


class _NoLog:
    """The import report is not kept by the SQL path (its rows are what is compared)."""

    def unmapped(self, *args: Any) -> None:
        pass


class Shapes:
    """The answers, given the code ``mapping`` of the run."""

    def __init__(self, mapping: Mapping) -> None:
        self.mapping = mapping
        self.conv = SimpleNamespace(mapping=mapping)  # what contraceptive_of reads

    # ------------------------------------------------------------------ Patient

    def patient(self, extension: str | None, gender: str | None) -> tuple[Any, ...]:
        res: dict[str, Any] = {}
        if extension is not None:
            res["extension"] = _load(extension)
        if gender is not None:
            res["gender"] = _load(gender)
        b = NativeBuilder("shape", "shape")
        read_sex(b, res, Origin("shape", None, None))
        if any(i.level == "error" for i in b.issues):
            return ("python", None, None)
        return ("row", b.demographics.get("sex"), b.demographics.get("sex_source"))

    # ------------------------------------------------------------------ Condition

    def condition(self, ver: str | None, clinical: str | None, code: str | None) -> tuple[Any, ...]:
        res: dict[str, Any] = {}
        if ver is not None:
            res["verificationStatus"] = _load(ver)
        if clinical is not None:
            res["clinicalStatus"] = _load(clinical)
        concept = _load(code)
        if condition_set_aside(res) is not None:
            return ("skip", None, None, None, None)
        found = codings(concept)
        classified = self.mapping.classify_condition(
            ((c.get("system"), c["code"], c.get("display")) for c in found), text(concept)
        )
        status = condition_status(res)
        verification = condition_verification(res)
        if classified is None or isinstance(classified, NotCriterion):
            return ("other", None, None, status, None)
        if classified.also:
            return ("python", None, None, None, None)
        unconfirmed = verification == "unconfirmed" or classified.verification == "unconfirmed"
        return (
            "row",
            classified.name,
            classified.type,
            classified.status or status,
            "unconfirmed" if unconfirmed else None,
        )

    # ------------------------------------------------------------------ Observation

    def observation_code(self, code: str | None) -> tuple[Any, ...]:
        """The Observation's own code: what it gives (``row`` a number, ``coded`` an answer,
        ``status``, ``assessment``), ``none``, or ``python``; and the fact's name and method."""
        concept = _load(code)
        if oxygen_code(concept) is not None:
            return ("python", None, None)  # an inhaled-oxygen observation (oxygen.py)
        found = codings(concept)
        for c in found:
            if self.mapping.classification(c.get("system"), c["code"]) is not None:
                return ("python", None, None)
        for c in found:
            target = self.mapping.observation(c.get("system"), c["code"])
            status = self.mapping.status(c.get("system"), c["code"])
            assessment = self.mapping.assessment(c.get("system"), c["code"])
            if status is not None:
                return ("status", status.name, None)
            if assessment is not None:
                return ("assessment", assessment.name, None)
            if target is not None:
                return ("coded" if target.coded else "row", target.name, target.method)
        if sledai_named(concept):
            return ("python", None, None)
        return ("none", None, None)

    def coded_value(self, concept: str | None, string: str | None) -> tuple[Any, ...]:
        """A coded result's answer (:func:`screener.importers.fhir.observations.answer`)."""
        part: dict[str, Any] = {}
        if concept is not None:
            part["valueCodeableConcept"] = _load(concept)
        if string is not None:
            part["valueString"] = _load(string)
        found = answer(self.conv, part)  # type: ignore[arg-type]
        return ("row", found) if found is not None else ("python", None)

    def status_value(self, code: str | None, boolean: str | None, concept: str | None) -> tuple[Any, ...]:
        """A status Observation's value (:func:`screener.importers.fhir.observations.status_value`)."""
        target = None
        for c in codings(_load(code)):
            target = self.mapping.status(c.get("system"), c["code"])
            if target is not None:
                break
        assert target is not None
        value = _load(boolean) if boolean is not None else None
        if isinstance(value, bool):
            return ("row", value)
        for c in codings(_load(concept)):
            key = (self.mapping.system(c.get("system")), str(c["code"]).strip().upper())
            if key in target.answers:
                found = target.answers[key]
                return ("none", None) if found is None else ("row", found)
        return ("python", None)

    def score(self, name: str, quantity: str | None, integer: str | None) -> tuple[Any, ...]:
        """An assessment's score as the Python importer and the patient loader take it."""
        q = _load(quantity)
        value = q.get("value") if isinstance(q, dict) else _load(integer)
        number = parse_number(value)  # ValueError/TypeError: an error in Python
        if name == "selena_sledai" and not 0 <= number <= 105:
            return ("python", None)
        return ("row", number)

    def component_code(self, code: str | None) -> tuple[Any, ...]:
        """A component's code: it gives no row (``none``) or it is left to Python."""
        concept = _load(code)
        for c in codings(concept):
            if (
                self.mapping.observation(c.get("system"), c["code"])
                or self.mapping.status(c.get("system"), c["code"])
                or self.mapping.assessment(c.get("system"), c["code"])
            ):
                return ("python",)
        return ("none",)  # an inhaled-oxygen component is read as the blood gas's oxygen state

    def oxygen(self, components: str | None) -> tuple[Any, ...]:
        """A blood gas's oxygen state from its components (:func:`.oxygen.component_state`)."""
        value = _load(components)
        return (component_state({"component": value} if value is not None else {}),)

    def quantity(self, name: str, shape: str) -> tuple[Any, ...]:
        """A valueQuantity without its value: the unit as written, the unit stored, and the
        factor to the canonical unit (:func:`screener.units.normalize` multiplies by it)."""
        q = _load(shape)
        if not isinstance(q, dict) or q.get("comparator"):
            return ("python", None, None, None, None, None)
        written = unit(q)
        if name not in units.CANONICAL:
            return ("row", written, written, None, None, None)
        if not written:
            return ("python", None, None, None, None, None)
        factor = units.normalize(name, 1.0, written)  # UnitError: Python reports it
        bounds = units.plausible_range(name)
        low, high = bounds if bounds is not None else (None, None)
        return ("row", written, units.CANONICAL[name], factor, low, high)

    def reference_range(self, name: str, written: str | None, ranges: str | None) -> tuple[Any, ...]:
        """(low, high) of ``referenceRange`` as :func:`.observations.observation_value` reads it
        and the patient loader converts it; ``python`` where either would report an error."""
        item: dict[str, Any] = {"name": name, "unit": written}
        rr = observation_reference_range(_load(ranges))
        if rr:
            item["reference_range"] = rr
        try:
            low, high = _reference_range(item, Location("shape"))
        except PatientDataError:
            return ("python", None, None)
        return ("row", low, high)

    # ------------------------------------------------------------------ medications

    def medication_status(
        self, kind: str, status: str | None, intent: str | None, dnp: str | None
    ) -> tuple[Any, ...]:
        res: dict[str, Any] = {"resourceType": kind}
        for key, value in (("status", status), ("intent", intent), ("doNotPerform", dnp)):
            if value is not None:
                res[key] = _load(value)
        if medication_set_aside(res) is not None:
            return ("skip", None)
        return ("go", _load(status) if status is not None else None)

    def medication_code(self, concept: str | None) -> tuple[Any, ...]:
        """A MedicationRequest/Statement's drug: a trial drug (``row``), a contraceptive
        (``contra``: method, event, display) or another drug (``other``)."""
        value = _load(concept)
        contraceptive = contraceptive_of(self.conv, [value])  # type: ignore[arg-type]
        if contraceptive is not None:
            return (
                "contra",
                None,
                None,
                None,
                contraceptive.method,
                contraceptive.event,
                contraceptive.display,
            )
        for c in codings(value):
            target = self.mapping.drug(c.get("system"), c["code"], c.get("display"))
            if target:
                return ("row", target.drug, target.route, target.strength_mg, None, None, None)
        return ("other", None, None, None, None, None, None)

    def drug_code(self, concept: str | None) -> tuple[Any, ...]:
        """A MedicationAdministration's drug (:func:`.medications.read_administration` reads no
        contraceptive there)."""
        for c in codings(_load(concept)):
            target = self.mapping.drug(c.get("system"), c["code"], c.get("display"))
            if target:
                return ("row", target.drug, target.route, target.strength_mg)
        return ("other", None, None, None)

    def outcome(self, reasons: str | None) -> tuple[Any, ...]:
        """The treatment outcome ``statusReason`` gives (:func:`.medications.outcome_of`)."""
        res = {"statusReason": _load(reasons)} if reasons is not None else {}
        conv = SimpleNamespace(mapping=self.mapping, log=_NoLog())
        return (outcome_of(conv, res),)  # type: ignore[arg-type]

    def route(self, route: str | None) -> tuple[Any, ...]:
        return (route_of(text(_load(route))),)

    def frequency(self, repeat: str | None) -> tuple[Any, ...]:
        value = _load(repeat)
        return (frequency_of(value if isinstance(value, dict) else {}),)

    def dose(self, dose_and_rate: str | None, dose: str | None, strength: float | None) -> tuple[Any, ...]:
        dosage: dict[str, Any] = {}
        if dose_and_rate is not None:
            dosage["doseAndRate"] = _load(dose_and_rate)
        if dose is not None:
            dosage["dose"] = _load(dose)
        try:
            found = dose_of(dosage, SimpleNamespace(strength_mg=strength))  # type: ignore[arg-type]
        except ValueError:
            return ("row", None, None)  # a warning in Python: the dose is left out
        if found is None:
            return ("row", None, None)
        value, written = found
        converted = units.normalize("dose", float(value), written)
        if units.plausibility_problem("dose", converted):
            return ("python", None, None)
        return ("row", converted, repr(found))  # the key infusions are grouped by (with drug, route)

    # ------------------------------------------------------------------ no rows, or Python

    def procedure(self, code: str | None) -> tuple[Any, ...]:
        """A Procedure gives no row, or is a contraceptive event (:mod:`.procedures`)."""
        found = contraceptive_of(self.conv, [_load(code)])  # type: ignore[arg-type]
        if found is None:
            return ("none", None, None, None)
        return ("contra", found.method, found.event, found.display)

    def allergy(self, ver: str | None, code: str | None) -> tuple[Any, ...]:
        verification = next((str(c["code"]) for c in codings(_load(ver)) if c.get("code")), "confirmed")
        if verification != "confirmed":
            return ("none",)
        for c in codings(_load(code)):
            if self.mapping.drug(c.get("system"), c["code"], c.get("display")) is not None:
                return ("python",)
        return ("none",)
