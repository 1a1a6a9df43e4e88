"""One OMOP person's rows into screener's native record: codes through the mapping (and the
extract's vocabulary tables), values, statuses, drugs, contraception, lists
(:mod:`screener.importers.omop`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from screener.importers.contraception import ContraceptionContext
from screener.importers.core import (
    ImportLog,
    NativeBuilder,
    Origin,
    PatientRecord,
    parse_date,
    parse_number,
)
from screener.importers.fhir import route_of
from screener.importers.fhir.oxygen import BLOOD_GASES
from screener.importers.mapping import (
    AssessmentTarget,
    ClassificationTarget,
    ContraceptionTarget,
    DrugTarget,
    Mapping,
    NotCriterion,
    ObservationTarget,
    StatusTarget,
    also_item,
)
from screener.importers.omop_details import OXYGEN_CODES, OmopOxygen, outcome_of_stop_reason, yes_no
from screener.importers.omop_files import Row
from screener.importers.record_lists import RecordLists
from screener.importers.statements import StatementContext
from screener.terminology import rxnorm
from screener.terminology.omop_vocab import ExtractVocabulary

# OMOP vocabulary_id -> FHIR code system URI (the URIs of terminology.yaml meta.fhir_code_systems).
VOCABULARIES = {
    "LOINC": "http://loinc.org",
    "SNOMED": "http://snomed.info/sct",
    "RxNorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "ICD10CM": "http://hl7.org/fhir/sid/icd-10-cm",
    "ICD10": "http://hl7.org/fhir/sid/icd-10",
    "ATC": "http://www.whocc.no/atc",
    "UCUM": "http://unitsofmeasure.org",
    # screener's own codes (docs/terminology.md): custom concepts (id > 2 000 000 000) of this vocabulary
    "Screener": "urn:screener:codes",
}
Concept = tuple[str, str, str]  # vocabulary_id, concept_code, concept_name


class _OmopConverter:
    def __init__(
        self,
        mapping: Mapping,
        log: ImportLog,
        tables: dict[str, Path],
        concepts: dict[str, Concept],
        vocabularies: dict[str, str],
        vocabulary: ExtractVocabulary | None = None,
    ) -> None:
        self.mapping = mapping
        self.log = log
        self.tables = tables
        self.concepts = concepts
        self.vocabularies = vocabularies
        self.vocabulary = vocabulary or ExtractVocabulary()
        self._unit_codes: dict[str, str] | None = None
        self.deaths: dict[str, tuple[int, str]] = {}
        self.periods: dict[str, list[dict[str, str]]] = {}

    def _candidates(self, table: str, row: dict[str, str], prefix: str) -> list[tuple[str, str, str]]:
        """(system, code, display) candidates for a row's concept, standard first."""
        out = []
        for cid in self.vocabulary.concept_ids(row, prefix):
            concept = self.concepts.get(cid)
            if concept and concept[0] in VOCABULARIES:
                out.append((VOCABULARIES[concept[0]], concept[1], concept[2]))
            elif concept:
                out.append((concept[0], concept[1], concept[2]))
        if not out and row.get(f"{prefix}_source_value"):
            # No concept (no CONCEPT table, or concept ids 0): read the source value as a code of
            # the table's default vocabulary (Synthea's ETL writes LOINC/SNOMED/RxNorm codes there).
            vocab = self.vocabularies.get(table, "")
            out.append((VOCABULARIES.get(vocab, vocab), row[f"{prefix}_source_value"], ""))
        return out

    def _origin(self, table: str, line: int, field: str | None = None) -> Origin:
        return Origin(str(self.tables[table]), line, field)

    def convert(
        self, pid: str, line: int, person: dict[str, str], rows: dict[str, list[Row]]
    ) -> PatientRecord | None:
        b = NativeBuilder(pid, str(self.tables["person"]))
        b.demographics["source"] = f"person/{pid}"
        birth = person.get("birth_datetime") or ""
        try:
            if birth.strip():
                b.demographics["birth_date"] = parse_date(birth).isoformat()
            elif person.get("year_of_birth") and person.get("month_of_birth") and person.get("day_of_birth"):
                b.demographics["birth_date"] = parse_date(
                    f"{int(person['year_of_birth']):04d}-{int(person['month_of_birth']):02d}-"
                    f"{int(person['day_of_birth']):02d}"
                ).isoformat()
            else:
                b.problem(self._origin("person", line, "birth_datetime"), "no full birth date", "warning")
        except ValueError as error:
            b.problem(self._origin("person", line, "birth_datetime"), f"{error}; birth date left out")
        gender = self.concepts.get(person.get("gender_concept_id", ""), ("", "", ""))[2].strip().lower()
        if gender not in ("male", "female"):
            gender = {"m": "male", "f": "female", "male": "male", "female": "female"}.get(
                (person.get("gender_source_value") or "").strip().lower(), ""
            )
        b.demographics["sex"] = gender or None
        self._observed_time(b, pid)
        contraception = ContraceptionContext()
        lists = RecordLists()
        statements, oxygen = StatementContext(), OmopOxygen()
        for ln, row in rows["condition_occurrence"]:
            self._condition(b, ln, row, lists)
        for ln, row in rows["drug_exposure"]:
            self._drug(b, ln, row, contraception, lists)
        for table in ("measurement", "observation"):
            for ln, row in rows[table]:
                self._measurement(b, table, ln, row, statements, oxygen)
        for ln, row in rows["procedure_occurrence"]:
            self._procedure(b, ln, row, contraception)
        contraception.settle(b, self.log)
        statements.settle(b, self.log)
        oxygen.settle()
        lists.settle(b)
        return b.finish(self.log)

    def _contraceptive(self, cands: list[tuple[str, str, str]]) -> ContraceptionTarget | None:
        for system, code, _ in cands:
            target = self.mapping.contraceptive(system, code)
            if target is not None:
                return target
        return None

    def _procedure(
        self, b: NativeBuilder, line: int, row: dict[str, str], contraception: ContraceptionContext
    ) -> None:
        """PROCEDURE_OCCURRENCE: contraceptive procedures (others name no criterion: unmapped)."""
        self.log.records += 1
        cands = self._candidates("procedure_occurrence", row, "procedure")
        target = self._contraceptive(cands)
        if target is None:
            self._unmapped("procedure_occurrence", cands, row.get("procedure_source_value"))
            return
        self._note_method(b, contraception, target, "procedure_occurrence", line, row, "procedure_date")

    def _note_method(
        self,
        b: NativeBuilder,
        contraception: ContraceptionContext,
        method: ContraceptionTarget,
        table: str,
        line: int,
        row: dict[str, str],
        date_column: str,
    ) -> None:
        """A contraceptive method in place from the row's date (a bad date: reported, not imported)."""
        origin = self._origin(table, line, date_column)
        try:
            day = parse_date(row[date_column])
        except ValueError as error:
            b.problem(origin, f"{method.display}: {error}; not imported")
            return
        self.log.answer(table, "bundled map")
        contraception.note(method, day, f"{table}/{row[f'{table}_id']}", origin)

    def _observed_time(self, b: NativeBuilder, pid: str) -> None:
        """DEATH -> ``demographics.deceased``; OBSERVATION_PERIOD -> ``demographics.observed``."""
        if pid in self.deaths:
            line, when = self.deaths[pid]
            try:
                b.demographics["deceased"] = parse_date(when).isoformat()
            except ValueError as error:
                b.demographics["deceased"] = True
                b.problem(
                    self._origin("death", line, "death_date"),
                    f"{error}; the person is read as deceased on an unknown date",
                    "warning",
                )
        if self.periods.get(pid):
            b.demographics["observed"] = self.periods[pid]

    def _condition(self, b: NativeBuilder, line: int, row: dict[str, str], lists: RecordLists) -> None:
        self.log.records += 1
        cands = self._candidates("condition_occurrence", row, "condition")
        found = self.mapping.classify_condition(
            cands, row.get("condition_source_value"), self._ancestors(row, "condition")
        )
        if isinstance(found, NotCriterion) or found is None:
            # a diagnosis no criterion reads: it shows the record has a diagnosis list
            start, end = _quiet_dates(row["condition_start_date"], row["condition_end_date"])
            origin = self._origin("condition_occurrence", line, "condition_concept_id")
            lists.condition(
                end is None, start, f"condition_occurrence/{row['condition_occurrence_id']}", origin
            )
        if isinstance(found, NotCriterion):
            self.log.skip(f"condition_occurrence ({found.reason})")
            return
        target = found
        if target is None:
            self._unmapped("condition_occurrence", cands, row.get("condition_source_value"))
            return
        self.log.answer("condition_occurrence", target.via, target.matched)
        origin = self._origin("condition_occurrence", line, "condition_start_date")
        item: dict[str, Any] = {
            "name": target.name,
            "type": target.type,
            "status": target.status or "active",
            "source": f"condition_occurrence/{row['condition_occurrence_id']}",
        }
        if target.verification == "unconfirmed":
            item["verification"] = "unconfirmed"
            b.problem(origin, f"{target.name} to confirm: {target.source} (no code classifies it)", "warning")
        try:
            if row["condition_start_date"]:
                item["onset"] = parse_date(row["condition_start_date"]).isoformat()
            if row["condition_end_date"]:
                item["end"] = parse_date(row["condition_end_date"]).isoformat()
        except ValueError as error:
            b.problem(origin, f"{error}; dates left out", "warning")
        b.add("conditions", item, origin)
        for extra in target.also:  # the same record is further conditions (mapping ``also``)
            b.add("conditions", also_item(item, extra), origin)

    def _drug(
        self,
        b: NativeBuilder,
        line: int,
        row: dict[str, str],
        contraception: ContraceptionContext,
        lists: RecordLists,
    ) -> None:
        self.log.records += 1
        cands = self._candidates("drug_exposure", row, "drug")
        method = self._contraceptive(cands)
        target = self._drug_target(row, cands) if method is None else None
        if target is None:  # a drug no criterion reads: it shows the record has a medication history
            start, end = _quiet_dates(row["drug_exposure_start_date"], row["drug_exposure_end_date"])
            origin = self._origin("drug_exposure", line, "drug_concept_id")
            lists.medication(start, end, f"drug_exposure/{row['drug_exposure_id']}", origin)
        if method is not None:  # a contraceptive taken: a method in place from its start
            start_column = "drug_exposure_start_date"
            self._note_method(b, contraception, method, "drug_exposure", line, row, start_column)
            return
        if target is None:
            self._unmapped("drug_exposure", cands, row.get("drug_source_value"))
            return
        self.log.answer("drug_exposure", target.via, target.matched)
        origin = self._origin("drug_exposure", line, "drug_exposure_start_date")
        try:
            start = parse_date(row["drug_exposure_start_date"])
        except ValueError as error:
            b.problem(origin, f"{target.drug}: {error}; not imported")
            return
        end = None
        if row["drug_exposure_end_date"]:
            try:
                end = parse_date(row["drug_exposure_end_date"])
            except ValueError as error:
                b.problem(
                    self._origin("drug_exposure", line, "drug_exposure_end_date"),
                    f"{target.drug}: {error}; end left out",
                    "warning",
                )
        if end is not None and end < start:
            b.problem(origin, f"{target.drug}: ends ({end}) before it starts ({start}); not imported")
            return
        route_name = self.concepts.get(row.get("route_concept_id", ""), ("", "", ""))[2]
        item: dict[str, Any] = {
            "drug": target.drug,
            "start": start.isoformat(),
            "end": end.isoformat() if end else None,
            "route": target.route or route_of(route_name or row.get("route_source_value")),
            "source": f"drug_exposure/{row['drug_exposure_id']}",
        }
        try:
            quantity = parse_number(row["quantity"]) if row["quantity"] else 0.0
            days = parse_number(row["days_supply"]) if row["days_supply"] else 0.0
        except ValueError as error:
            b.problem(self._origin("drug_exposure", line, "quantity"), f"{error}; dose left out", "warning")
            quantity = days = 0.0
        if target.strength_mg and quantity > 0 and days > 0:
            item.update(dose=round(quantity * target.strength_mg / days, 6), unit="mg", frequency="daily")
        reason = row.get("stop_reason") or ""
        outcome, clear = outcome_of_stop_reason(reason)
        if outcome is not None:
            item["outcome"] = outcome
        elif not clear:
            b.problem(
                self._origin("drug_exposure", line, "stop_reason"),
                f"{target.drug}: stop reason {reason!r} is not read (only clear words are); its outcome "
                "is left unknown: check whether it failed",
                "warning",
            )
        b.add("medications", item, origin)

    def _measurement(
        self,
        b: NativeBuilder,
        table: str,
        line: int,
        row: dict[str, str],
        statements: StatementContext,
        oxygen: OmopOxygen,
    ) -> None:
        self.log.records += 1
        cands = self._candidates(table, row, table)
        target, status, assessment, classified, oxygen_code = self.measurement_kind(table, cands)
        if oxygen_code is not None:
            oxygen.note(oxygen_code, row, self._unit(row))  # a blood gas's oxygen state (omop_details)
            return
        if not (target or status or assessment or classified):
            self._unmapped(table, cands, row.get(f"{table}_source_value"))
            return
        date_origin = self._origin(table, line, f"{table}_date")
        try:
            when = parse_date(row[f"{table}_date"])
        except ValueError as error:
            b.problem(date_origin, f"{error}; not imported")
            return
        source = f"{table}/{row[f'{table}_id']}"
        if assessment is not None or classified is not None:
            origin = self._origin(table, line, "value_as_number")
            try:
                number = parse_number(row["value_as_number"])
            except (ValueError, KeyError):
                shown = row.get("value_as_number")
                b.problem(origin, f"{source}: value_as_number {shown!r} is not a number; not imported")
                return
            if classified is not None:
                statements.classification(b, number, classified, when, source, None, origin)
            elif assessment is not None:
                item = {"name": assessment.name, "score": number, "date": when.isoformat(), "source": source}
                b.add("assessments", item, origin)
            return
        if status is not None and not status.answers:  # a yes/no status (screener's own codes)
            origin = self._origin(table, line, "value_as_number")
            answer = yes_no(row)
            if answer is None:
                b.problem(origin, f"{status.name}: neither yes nor no in value_as_number / value_as_string")
                return
            fact = {"name": status.name, "value": answer, "date": when.isoformat(), "source": source}
            b.add("statuses", fact, origin)
            return
        value_concept = self.concepts.get(row.get("value_as_concept_id", ""))
        text = row.get("value_as_string") or row.get("value_source_value") or ""
        if status is not None:
            origin = self._origin(table, line, "value_as_concept_id")
            value: bool | None = None
            known = False
            if value_concept:
                key = (
                    self.mapping.system(VOCABULARIES.get(value_concept[0], value_concept[0])),
                    value_concept[1].strip().upper(),
                )
                if key in status.answers:
                    value, known = status.answers[key], True
            elif row.get("value_source_value"):
                # no answer concept: the source value read as an answer code (LOINC LA..., SNOMED)
                code = row["value_source_value"].strip().upper()
                found = [v for (_system, c), v in status.answers.items() if c == code]
                if found:
                    value, known = found[0], True
            if not known:
                b.problem(
                    origin, f"{status.name}: answer {text or value_concept!r} not recognised; not imported"
                )
                return
            if value is not None:
                b.add(
                    "statuses",
                    {"name": status.name, "value": value, "date": when.isoformat(), "source": source},
                    origin,
                )
            return
        assert target is not None
        if target.coded:
            origin = self._origin(table, line, "value_as_concept_id")
            answer = None
            if value_concept:
                answer = self.mapping.answer(
                    VOCABULARIES.get(value_concept[0], value_concept[0]), value_concept[1]
                )
            answer = answer or self.mapping.answer_from_text(text)
            if answer is None:
                if value_concept:
                    self.log.unmapped(
                        f"{table}.value",
                        VOCABULARIES.get(value_concept[0], value_concept[0]),
                        value_concept[1],
                        value_concept[2],
                    )
                b.problem(
                    origin,
                    f"{target.name}: answer {text or value_concept!r} is not a known "
                    "positive/negative answer; not imported",
                )
                return
            b.add_observation(
                {
                    "name": target.name,
                    "value": answer,
                    "date": when.isoformat(),
                    "source": source,
                    "method": target.method,
                },
                origin,
            )
            return
        origin = self._origin(table, line, "value_as_number")
        if not row.get("value_as_number"):
            b.problem(origin, f"{target.name}: no value_as_number; not imported")
            return
        try:
            number = parse_number(row["value_as_number"])
        except ValueError as error:
            b.problem(origin, f"{target.name}: {error}; not imported")
            return
        operator = row.get("operator_concept_id", "")
        if operator not in ("", "0"):
            name = self.concepts.get(operator, ("", "", "?"))[2].strip()
            if name != "=":
                b.problem(
                    origin,
                    f"{target.name}: censored value {name}{number} (operator_concept_id "
                    f"{operator}) not imported",
                    "warning",
                )
                return
        unit = self._unit(row)
        item: dict[str, Any] = {
            "name": target.name,
            "value": number,
            "unit": unit or None,
            "date": when.isoformat(),
            "source": source,
            "method": target.method,
        }
        rr: dict[str, Any] = {}
        for col, key in (("range_low", "low"), ("range_high", "high")):
            if row.get(col):
                try:
                    rr[key] = parse_number(row[col])
                except ValueError as error:
                    b.problem(self._origin(table, line, col), f"{error}; reference range left out", "warning")
        if rr:
            item["reference_range"] = rr
        added = b.add_observation(
            item, self._origin(table, line, "unit_source_value" if not unit else "value_as_number")
        )
        if added and target.name in BLOOD_GASES:
            oxygen.blood_gas(item, row)

    def measurement_kind(
        self, table: str, cands: list[tuple[str, str, str]]
    ) -> tuple[
        ObservationTarget | None,
        StatusTarget | None,
        AssessmentTarget | None,
        ClassificationTarget | None,
        str | None,
    ]:
        """What a MEASUREMENT / OBSERVATION row's concept is: (observation, status, assessment,
        classification target, inhaled-oxygen LOINC code); the first candidate the mapping knows
        answers, and an inhaled-oxygen code met before any such candidate is an oxygen state."""
        target = status = assessment = classified = None
        for s, c, _ in cands:
            target = self.mapping.observation(s, c)
            status = self.mapping.status(s, c)
            assessment = self.mapping.assessment(s, c)
            classified = self.mapping.classification(s, c)
            if target or status or assessment or classified:
                break
            if (
                table == "measurement"
                and self.mapping.system(s) == VOCABULARIES["LOINC"]
                and c in OXYGEN_CODES
            ):
                return None, None, None, None, c
        return target, status, assessment, classified, None

    def _unit(self, row: dict[str, str]) -> str:
        """A row's unit: the UCUM code of its unit concept, else its unit_source_value."""
        unit_concept = self.concepts.get(row.get("unit_concept_id", ""))
        if unit_concept and unit_concept[0] == "UCUM":
            return unit_concept[1]
        return row.get("unit_source_value") or ""

    # ------------------------------------------------------------------ vocabulary tables

    def _units(self) -> dict[str, str]:
        """Unit concept id -> UCUM code, from the concepts read (built once)."""
        if self._unit_codes is None:
            self._unit_codes = {cid: c[1] for cid, c in self.concepts.items() if c[0] == "UCUM"}
        return self._unit_codes

    def _code(self, cid: str) -> tuple[str, str, str] | None:
        concept = self.concepts.get(cid)
        return (VOCABULARIES.get(concept[0], concept[0]), concept[1], concept[2]) if concept else None

    def _ancestors(self, row: dict[str, str], prefix: str) -> Iterator[tuple[str, str, str]]:
        """(system, code, how) of the ancestors of a row's concepts, nearest first (CONCEPT_ANCESTOR)."""
        for cid in self.vocabulary.concept_ids(row, prefix):
            for ancestor, level in self.vocabulary.ancestors.get(cid, ()):
                code = self._code(ancestor)
                if code is not None and level > 0:
                    yield (
                        code[0],
                        code[1],
                        f"OMOP CONCEPT_ANCESTOR ({code[1]} {code[2]}, {level} level(s) up)",
                    )

    def _drug_target(self, row: dict[str, str], cands: list[tuple[str, str, str]]) -> DrugTarget | None:
        """The trial drug of a drug_exposure row.

        In order: the mapping's own codes; DRUG_STRENGTH (ingredient and amount per unit); the
        product's ancestors in CONCEPT_ANCESTOR (its ingredient; no strength); then the RxNorm
        normalised name of the concept (CONCEPT.concept_name).
        """
        for s, c, _ in cands:
            found = self.mapping.listed_drug(s, c)
            if found is not None:
                return found
        first = f"{cands[0][0]}|{cands[0][1]}" if cands else None
        for cid in self.vocabulary.concept_ids(row, "drug"):
            for strength in self.vocabulary.strengths.get(cid, ()):
                code = self._code(strength.ingredient)
                target = self.mapping.drug(code[0], code[1]) if code else None
                if target is not None and code is not None:
                    name = self.concepts.get(cid, ("", "", ""))[2]
                    parsed = rxnorm.parse_name(name)
                    return DrugTarget(
                        target.drug,
                        f"DRUG_STRENGTH {cid} {name} -> ingredient {code[1]}",
                        strength.mg(self._units()),
                        parsed.route if parsed else None,
                        "OMOP DRUG_STRENGTH",
                        matched=first,
                    )
        for s, c, how in self._ancestors(row, "drug"):
            target = self.mapping.drug(s, c)
            if target is not None:
                return replace(
                    target, strength_mg=None, source=f"{how} -> {target.source}", via=how, matched=first
                )
        for s, c, display in cands:
            target = self.mapping.drug(s, c, display)
            if target is not None:
                return target
        return None

    def _unmapped(self, table: str, cands: list[tuple[str, str, str]], source_value: str | None) -> None:
        if cands:
            system, code, display = cands[0]
            self.log.unmapped(table, system, code, display)
        else:
            self.log.unmapped(table, "", source_value or "(no concept)", "")


def _quiet_dates(start: str, end: str) -> tuple[date | None, date | None]:
    """A row's start and end dates, None where empty or unreadable (reported where they are used)."""
    out: list[date | None] = []
    for text in (start, end):
        try:
            out.append(parse_date(text) if text else None)
        except ValueError:
            out.append(None)
    return out[0], out[1]
