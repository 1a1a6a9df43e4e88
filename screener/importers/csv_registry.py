"""Flat CSV registries: one row per patient, read through a column-mapping YAML.

The column mapping (example: ``fixtures/registry/lupus_registry.mapping.yaml``) says which
column becomes which fact::

    registry:
      id: example
      patient_id: patient_id            # column holding the patient id
      delimiter: ","                    # optional (default ","; ";" for many European exports)
      demographics:
        birth_date: {column: dob}
        sex: {column: sex, values: {F: female, M: male}}
      observations:                     # number (with unit or unit_column) or coded via values
        - {column: creat, name: creatinine, unit: umol/L, date_column: lab_date}
        - {column: ana, name: ana, values: {pos: positive, neg: negative}, date_column: ana_date}
      statuses:
        - {column: pregnant, name: pregnant, values: {yes: true, no: false}, date_column: visit_date}
      assessments:
        - {column: sledai, name: selena_sledai, date_column: sledai_date}
      conditions:                       # the row has the condition when the value maps to true
        - {column: sle, name: sle, values: {yes: true, no: false}, onset_column: sle_onset,
           classification: acr_1997, criteria_met_column: acr_count}
      medications:                      # dose column; start (and end) columns
        - {column: pred_mg, drug: prednisone, unit: mg, route: oral, frequency: daily,
           start_column: pred_start, end_column: pred_end, outcome_column: pred_outcome}

An empty cell means "not recorded" (no fact). A value that does not parse (not a number, not
one of ``values``), a fact with an empty date column, or a row with the wrong number of fields
is an :class:`ImportIssue` naming file, line and column; the rest of the row and of the file is
read. ``values`` keys are matched case-insensitively. Each fact's ``source`` is
``<file name>:<line>:<column>``. Rows are streamed; memory holds one row at a time.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from screener.importers.core import (
    ImportIssue,
    ImportLog,
    ImportRun,
    NativeBuilder,
    Origin,
    PatientRecord,
    parse_date,
    parse_number,
)
from screener.importers.mapping import MappingError
from screener.yamlio import LineMap, load_file, yaml_error_location, yaml_error_message

_SECTIONS = ("observations", "statuses", "assessments", "conditions", "medications")


class RegistryMapping:
    """A checked column mapping (the parsed YAML plus where it came from)."""

    def __init__(self, data: dict[str, Any], lines: LineMap) -> None:
        self.file = lines.file
        reg = data.get("registry") if isinstance(data, dict) else None
        if not isinstance(reg, dict):
            raise MappingError("a registry mapping needs a `registry:` section", lines.locate(()))
        if not reg.get("patient_id"):
            raise MappingError("registry.patient_id (the id column) is required", lines.locate(("registry",)))
        self.id = str(reg.get("id", Path(lines.file).stem))
        self.patient_id = str(reg["patient_id"])
        self.delimiter = str(reg.get("delimiter", ","))
        self.demographics: dict[str, Any] = reg.get("demographics") or {}
        self.sections: dict[str, list[dict[str, Any]]] = {}
        for section in _SECTIONS:
            entries = reg.get(section) or []
            for i, e in enumerate(entries):
                key = "drug" if section == "medications" else "name"
                if not isinstance(e, dict) or "column" not in e or key not in e:
                    raise MappingError(
                        f"each {section} entry needs `column` and `{key}`",
                        lines.locate(("registry", section, i)),
                    )
                if section == "medications" and "start_column" not in e:
                    raise MappingError(
                        "a medication entry needs `start_column`", lines.locate(("registry", section, i))
                    )
            self.sections[section] = entries

    def columns(self) -> set[str]:
        cols = {self.patient_id}
        for spec in self.demographics.values():
            if isinstance(spec, dict) and spec.get("column"):
                cols.add(spec["column"])
        for entries in self.sections.values():
            for e in entries:
                cols.update(v for k, v in e.items() if k == "column" or k.endswith("_column"))
        return cols


def load_registry_mapping(path: str | Path) -> RegistryMapping:
    p = Path(path)
    try:
        data, lines = load_file(p)
    except OSError as error:
        raise MappingError(f"cannot read registry mapping: {error.strerror}", None) from None
    except yaml.YAMLError as error:
        raise MappingError(yaml_error_message(error), yaml_error_location(error, str(p))) from None
    return RegistryMapping(data, lines)


# YAML 1.1 reads unquoted yes/no/on/off/true/false keys as booleans: accept those spellings.
_BOOL_WORDS = {True: ("yes", "y", "true", "on"), False: ("no", "n", "false", "off")}


def _lookup(values: dict[Any, Any], cell: str) -> tuple[bool, Any]:
    low = cell.strip().lower()
    for k, v in values.items():
        if isinstance(k, bool):
            if low in _BOOL_WORDS[k]:
                return True, v
        elif str(k).strip().lower() == low:
            return True, v
    return False, None


def iter_registry(paths: Iterable[str | Path], mapping: RegistryMapping | str | Path) -> ImportRun:
    """Patients from flat CSV files, one row per patient, read through ``mapping``."""
    reg = mapping if isinstance(mapping, RegistryMapping) else load_registry_mapping(mapping)
    log = ImportLog("csv-registry", reg.file)

    def gen() -> Iterator[PatientRecord]:
        for path in map(Path, paths):
            try:
                handle = path.open(newline="", encoding="utf-8-sig")
            except OSError as error:
                log.issue(ImportIssue(str(path), None, None, f"cannot read file: {error.strerror}"))
                continue
            with handle:
                reader = csv.DictReader(handle, delimiter=reg.delimiter)
                header = reader.fieldnames or []
                missing = sorted(reg.columns() - set(header))
                if missing:
                    log.issue(
                        ImportIssue(
                            str(path),
                            1,
                            ", ".join(missing),
                            "column(s) named in the mapping are not in the header",
                            level="warning",
                        )
                    )
                seen: set[str] = set()
                try:
                    for row in reader:
                        line = reader.line_num
                        if None in row or any(v is None for v in row.values()):
                            log.issue(
                                ImportIssue(
                                    str(path),
                                    line,
                                    None,
                                    f"row has a different number of fields than the header "
                                    f"({len(header)}); not imported",
                                )
                            )
                            log.records += 1  # a refused row is read and counted as failed
                            log.patients_failed += 1
                            continue
                        pid = (row.get(reg.patient_id) or "").strip()
                        if not pid:
                            log.issue(
                                ImportIssue(str(path), line, reg.patient_id, "empty patient id; not imported")
                            )
                            log.records += 1
                            log.patients_failed += 1
                            continue
                        if pid in seen:
                            log.issue(
                                ImportIssue(
                                    str(path),
                                    line,
                                    reg.patient_id,
                                    f"patient {pid} appears twice; second row not imported",
                                )
                            )
                            log.records += 1
                            log.patients_failed += 1
                            continue
                        seen.add(pid)
                        log.records += 1
                        record = _row(reg, path, line, pid, row, log)
                        if record is not None:
                            yield record
                except csv.Error as error:
                    log.issue(
                        ImportIssue(
                            str(path), reader.line_num, None, f"malformed CSV: {error}; rest of file not read"
                        )
                    )

    return ImportRun(gen(), log)


def _row(
    reg: RegistryMapping, path: Path, line: int, pid: str, row: dict[str, str], log: ImportLog
) -> PatientRecord | None:
    b = NativeBuilder(pid, str(path))

    def cell(col: str | None) -> str:
        return (row.get(col) or "").strip() if col else ""

    def origin(col: str) -> Origin:
        return Origin(str(path), line, col)

    def source(col: str) -> str:
        return f"{path.name}:{line}:{col}"

    def date_of(spec: dict[str, Any], key: str, required: bool, what: str) -> tuple[bool, str | None]:
        col = spec.get(key)
        if not col:
            if required:
                b.problem(origin(spec["column"]), f"{what}: the mapping gives no {key}; not imported")
                return False, None
            return True, None
        text = cell(col)
        if not text:
            if required:
                b.problem(origin(col), f"{what}: date missing; not imported")
                return False, None
            return True, None
        try:
            return True, parse_date(text).isoformat()
        except ValueError as error:
            b.problem(origin(col), f"{what}: {error}; not imported")
            return False, None

    def value_of(spec: dict[str, Any], text: str, what: str) -> tuple[bool, Any]:
        if "values" in spec:
            ok, value = _lookup(spec["values"], text)
            if not ok:
                b.problem(
                    origin(spec["column"]),
                    f"{what}: {text!r} is not one of {', '.join(map(str, spec['values']))}; not imported",
                )
            return ok, value
        try:
            return True, parse_number(text)
        except ValueError:
            b.problem(origin(spec["column"]), f"{what}: {text!r} is not a number; not imported")
            return False, None

    b.demographics["source"] = f"{path.name}:{line}"
    bd = reg.demographics.get("birth_date")
    if isinstance(bd, dict) and cell(bd.get("column")):
        try:
            b.demographics["birth_date"] = parse_date(cell(bd["column"])).isoformat()
        except ValueError as error:
            b.problem(origin(bd["column"]), f"{error}; birth date left out")
    sx = reg.demographics.get("sex")
    if isinstance(sx, dict) and cell(sx.get("column")):
        values = sx.get("values") or {"female": "female", "male": "male"}
        ok, value = _lookup(values, cell(sx["column"]))
        if ok and value in ("female", "male"):
            b.demographics["sex"] = value
        else:
            b.problem(
                origin(sx["column"]),
                f"sex {cell(sx['column'])!r} is not one of {', '.join(values)}; left out",
            )

    for spec in reg.sections["observations"]:
        text = cell(spec["column"])
        if not text:
            continue
        ok, value = value_of(spec, text, spec["name"])
        ok_date, when = date_of(spec, "date_column", True, spec["name"]) if ok else (False, None)
        if not (ok and ok_date):
            continue
        unit = cell(spec.get("unit_column")) or spec.get("unit")
        item = {
            "name": spec["name"],
            "value": value,
            "unit": unit if "values" not in spec else None,
            "date": when,
            "source": source(spec["column"]),
            "method": spec.get("method"),
        }
        b.add_observation(item, origin(spec["column"]))
    # statuses (date optional) and assessments (date required) differ only in these
    for section, value_key, date_required in (("statuses", "value", False), ("assessments", "score", True)):
        for spec in reg.sections[section]:
            text = cell(spec["column"])
            if not text:
                continue
            ok, value = value_of(spec, text, spec["name"])
            ok_date, when = date_of(spec, "date_column", date_required, spec["name"]) if ok else (False, None)
            if ok and ok_date and value is not None:
                b.add(
                    section,
                    {"name": spec["name"], value_key: value, "date": when, "source": source(spec["column"])},
                    origin(spec["column"]),
                )
    for spec in reg.sections["conditions"]:
        text = cell(spec["column"])
        if not text:
            continue
        ok, present = _lookup(spec.get("values") or {"yes": True, "no": False}, text)
        if not ok:
            b.problem(
                origin(spec["column"]),
                f"{spec['name']}: {text!r} is not a yes/no value of the mapping; not imported",
            )
            continue
        if present is not True:
            continue
        ok_onset, onset = date_of(spec, "onset_column", False, spec["name"])
        item: dict[str, Any] = {
            "name": spec["name"],
            "type": spec.get("type"),
            "onset": onset if ok_onset else None,
            "classification": spec.get("classification"),
            "source": source(spec["column"]),
        }
        if spec.get("criteria_met_column") and cell(spec["criteria_met_column"]):
            try:
                item["criteria_met"] = int(cell(spec["criteria_met_column"]))
            except ValueError:
                b.problem(
                    origin(spec["criteria_met_column"]),
                    f"{spec['name']}: criteria count {cell(spec['criteria_met_column'])!r} is not an "
                    "integer; left out",
                )
        b.add("conditions", item, origin(spec["column"]))
    for spec in reg.sections["medications"]:
        text = cell(spec["column"])
        if not text:
            continue
        ok, dose = value_of({k: v for k, v in spec.items() if k != "values"}, text, spec["drug"])
        ok_start, start = date_of(spec, "start_column", True, spec["drug"]) if ok else (False, None)
        ok_end, end = date_of(spec, "end_column", False, spec["drug"]) if ok_start else (False, None)
        if not (ok and ok_start and ok_end):
            continue
        if end is not None and start is not None and end < start:
            b.problem(
                origin(spec["end_column"]),
                f"{spec['drug']}: ends ({end}) before it starts ({start}); not imported",
            )
            continue
        item = {
            "drug": spec["drug"],
            "dose": dose,
            "unit": spec.get("unit", "mg"),
            "start": start,
            "end": end,
            "route": spec.get("route"),
            "frequency": spec.get("frequency"),
            "outcome": cell(spec.get("outcome_column")) or None,
            "source": source(spec["column"]),
        }
        b.add("medications", item, origin(spec["column"]))
    return b.finish(log)
