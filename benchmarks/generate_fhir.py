"""Write the synthetic registry of ``generate_registry.py`` as FHIR R4 Bulk Data NDJSON.

    python benchmarks/generate_fhir.py --n 100000 --seed 1 --out /tmp/fhir-bulk   # a Bulk Data folder
    python benchmarks/generate_fhir.py --n 200 --out /tmp/bulk --native /tmp/carried.jsonl --gzip

Each patient of :func:`generate_registry.patient` becomes the resources an EHR's Bulk Data export
holds: Patient, Observation (labs with UCUM units and reference ranges, coded serologies,
pregnancy and breastfeeding status, SELENA-SLEDAI, blood gases with an inhaled-oxygen
component), Condition (clinical status, onset, abatement), MedicationRequest (dose, route,
timing, period, status, stop reason) and MedicationAdministration (infusions), one
``<Type>.ndjson`` file per type (``.ndjson.gz`` with ``--gzip``) and a ``manifest.json``.

Every code comes from the shipped code mapping (``screener/importers/mappings/nct03562065.yaml``),
whose entries cite where each was verified (``source:``, mostly ``shared/reference/terminology.yaml``):
LOINC for labs and statuses, SNOMED CT for diagnoses, answers and stop reasons, RxNorm
ingredients for drugs, screener's own code system for SELENA-SLEDAI and the in-other-study /
legal-protection statements (``docs/terminology.md#screeners-own-codes``); the inhaled-oxygen
component is LOINC 3150-0 (FiO2), as :mod:`screener.importers.fhir.oxygen` cites.

What FHIR cannot carry (a person's confirmation, a classification's criteria count, whether a
cytopenia is attributed to lupus, informed consent and the other person-only statuses, an
outcome "response" or "completed") is left out; ``--native FILE`` writes, per patient, the
native record of exactly what was written (the "carried" record), so that converting the
NDJSON and converting that JSONL must give the same outcome on every criterion
(``tests/tables/test_generate_fhir.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import random
import sys
from datetime import date
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_registry import patient as native_patient

ROOT = Path(__file__).resolve().parents[1]
MAPPING = ROOT / "screener" / "importers" / "mappings" / "nct03562065.yaml"
UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
FIO2 = "3150-0"  # LOINC Inhaled oxygen concentration (screener/importers/fhir/oxygen.py)
ROUTES = {"oral": "Oral route", "iv": "Intravenous route"}  # read by route_of ("oral", "intraven")
TIMINGS = {  # native frequency -> FHIR Timing.repeat (screener/importers/fhir/medications.py)
    "daily": (1, 1, "d"),
    "bid": (2, 1, "d"),
    "weekly": (1, 1, "wk"),
    "every_4_weeks": (1, 4, "wk"),
    "monthly": (1, 1, "mo"),
}
STATUS_ANSWERS = {  # status -> value -> LOINC answer (mapping statuses[].answers)
    "pregnant": {True: "LA15173-0", False: "LA26683-5"},
    "breastfeeding": {True: "LA29252-6", False: "LA29253-4"},
}
BOOLEAN_STATUSES = ("in_other_study", "legal_protection")  # screener codes, valueBoolean


class Codes:
    """The first code the mapping gives each fact, by preferred system."""

    def __init__(self, path: Path = MAPPING) -> None:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        self.systems: dict[str, str] = data["systems"]
        self.data = data

    def _coding(self, entry: dict[str, Any], prefer: tuple[str, ...]) -> dict[str, str]:
        for system in prefer:
            for c in entry["codes"]:
                if c["system"] == system:
                    return {
                        "system": self.systems[c["system"]],
                        "code": str(c["code"]),
                        "display": c["display"],
                    }
        raise KeyError(f"no {prefer} code for {entry.get('name')}")

    def observation(self, name: str, method: str | None = None) -> dict[str, str] | None:
        for entry in self.data["observations"]:
            if entry["name"] == name and entry.get("method") == method:
                return self._coding(entry, ("loinc", "snomed"))
        return None

    def status(self, name: str) -> dict[str, str]:
        entry = next(e for e in self.data["statuses"] if e["name"] == name)
        return self._coding(entry, ("loinc", "screener"))

    def assessment(self, name: str) -> dict[str, str]:
        entry = next(e for e in self.data["assessments"] if e["name"] == name)
        return self._coding(entry, ("screener",))

    def condition(self, name: str, type_: str | None) -> tuple[dict[str, str], str | None]:
        """A code for the condition, and the type the mapping gives it."""
        entries = [e for e in self.data["conditions"] if e["name"] == name]
        if type_ == "breast_cancer":  # SNOMED 254837009 Malignant neoplasm of breast
            entries = [e for e in entries if any(str(c["code"]) == "254837009" for c in e["codes"])]
            entry = entries[0]
            coding = next(c for c in entry["codes"] if str(c["code"]) == "254837009")
            return {"system": SNOMED, "code": "254837009", "display": coding["display"]}, entry.get("type")
        for entry in entries:
            if entry.get("type") == type_:
                return self._coding(entry, ("snomed", "icd10cm", "icd10")), entry.get("type")
        raise KeyError(name)

    def drug(self, name: str) -> dict[str, str]:
        entry = next(e for e in self.data["drugs"] if e["name"] == name)
        return self._coding(entry, ("rxnorm",))

    def answer(self, positive: bool) -> dict[str, str]:
        entry = self.data["answers"]["positive" if positive else "negative"][0]
        return {
            "system": self.systems[entry["system"]],
            "code": str(entry["code"]),
            "display": entry["display"],
        }

    def outcome(self, outcome: str) -> dict[str, str]:
        entry = next(e for e in self.data["treatment_outcomes"] if e["outcome"] == outcome)
        return self._coding(entry, ("snomed",))


def _concept(coding: dict[str, str]) -> dict[str, Any]:
    return {"coding": [coding], "text": coding["display"]}


def _quantity(value: Any, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def to_fhir(data: dict[str, Any], codes: Codes) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A native patient as FHIR resources, and the native record of what they carry."""
    pid = data["patient_id"]
    subject = {"reference": f"Patient/{pid}"}
    demo = data["demographics"]
    resources: list[dict[str, Any]] = []
    patient: dict[str, Any] = {"resourceType": "Patient", "id": pid, "gender": demo["sex"]}
    if "birth_date" in demo:
        patient["birthDate"] = demo["birth_date"]
    resources.append(patient)
    carried: dict[str, Any] = {
        "schema_version": "1",
        "patient_id": pid,
        "demographics": dict(demo),
        "observations": [],
        "statuses": [],
        "assessments": [],
        "conditions": [],
        "medications": [],
    }
    n = 0

    def add(res: dict[str, Any]) -> None:
        nonlocal n
        n += 1
        res.setdefault("id", f"{pid}-{n}")
        resources.append({"resourceType": res.pop("resourceType"), "id": res.pop("id"), **res})

    for o in data.get("observations", []):
        coding = codes.observation(o["name"], o.get("method"))
        method = o.get("method")
        if coding is None:  # e.g. pap_mean by echocardiography: the mapping has no method code
            coding, method = codes.observation(o["name"]), None
        if coding is None:
            continue
        res: dict[str, Any] = {
            "resourceType": "Observation",
            "status": "final",
            "code": _concept(coding),
            "subject": subject,
            "effectiveDateTime": o["date"] + "T09:30:00Z",
        }
        kept = {"name": o["name"], "date": o["date"], "value": o["value"]}
        if method:
            kept["method"] = method
        if isinstance(o["value"], str):
            res["valueCodeableConcept"] = _concept(codes.answer(o["value"] == "positive"))
        else:
            res["valueQuantity"] = _quantity(o["value"], o["unit"])
            kept["unit"] = o["unit"]
            if "reference_range" in o:
                res["referenceRange"] = [{"high": _quantity(o["reference_range"]["high"], o["unit"])}]
                kept["reference_range"] = dict(o["reference_range"])
            if "on_oxygen" in o:
                fio2 = 40 if o["on_oxygen"] else 21
                code = {"system": LOINC, "code": FIO2, "display": "Inhaled oxygen concentration"}
                res["component"] = [{"code": _concept(code), "valueQuantity": _quantity(fio2, "%")}]
                kept["on_oxygen"] = o["on_oxygen"]
        add(res)
        carried["observations"].append(kept)
    for s in data.get("statuses", []):
        if s["name"] not in STATUS_ANSWERS and s["name"] not in BOOLEAN_STATUSES:
            continue
        res = {
            "resourceType": "Observation",
            "status": "final",
            "code": _concept(codes.status(s["name"])),
            "subject": subject,
            "effectiveDateTime": s["date"],
        }
        if s["name"] in STATUS_ANSWERS:
            answer = STATUS_ANSWERS[s["name"]][s["value"]]
            res["valueCodeableConcept"] = {"coding": [{"system": LOINC, "code": answer}]}
        else:
            res["valueBoolean"] = s["value"]
        add(res)
        carried["statuses"].append({"name": s["name"], "value": s["value"], "date": s["date"]})
    for a in data.get("assessments", []):
        add(
            {
                "resourceType": "Observation",
                "status": "final",
                "code": _concept(codes.assessment(a["name"])),
                "subject": subject,
                "effectiveDateTime": a["date"],
                "valueInteger": a["score"],
            }
        )
        carried["assessments"].append(dict(a))
    for c in data.get("conditions", []):
        coding, type_ = codes.condition(c["name"], c.get("type"))
        status = c.get("status", "active")
        res = {
            "resourceType": "Condition",
            "clinicalStatus": {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": status}
                ]
            },
            "verificationStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                        "code": "confirmed",
                    }
                ]
            },
            "code": _concept(coding),
            "subject": subject,
        }
        kept = {"name": c["name"], "status": status}
        if type_:
            kept["type"] = type_
        if "onset" in c:
            res["onsetDateTime"] = c["onset"]
            kept["onset"] = c["onset"]
        if "end" in c:
            res["abatementDateTime"] = c["end"]
            kept["end"] = c["end"]
        add(res)
        carried["conditions"].append(kept)
    infusions: list[dict[str, Any]] = []
    for m in data.get("medications", []):
        drug = _concept(codes.drug(m["drug"]))
        route = {"text": ROUTES[m["route"]]}
        if m.get("administrations"):
            days = sorted(set(m["administrations"]))
            for day in days:
                add(
                    {
                        "resourceType": "MedicationAdministration",
                        "status": "completed",
                        "medicationCodeableConcept": drug,
                        "subject": subject,
                        "effectiveDateTime": day,
                        "dosage": {
                            "route": route,
                            "dose": {"value": m["dose"], "unit": "mg", "system": UCUM, "code": "mg"},
                        },
                    }
                )
            kept = {
                "drug": m["drug"],
                "dose": m["dose"],
                "unit": "mg",
                "route": m["route"],
                "start": days[0],
                "end": days[-1],
                "administrations": days,
            }
            if len(days) == 1:
                kept["frequency"] = "once"
            infusions.append(kept)
            continue
        status = (
            "active"
            if "end" not in m
            else ("stopped" if m.get("outcome") in ("inefficacy", "adverse_effect") else "completed")
        )
        dosage: dict[str, Any] = {
            "route": route,
            "doseAndRate": [
                {"doseQuantity": {"value": m["dose"], "unit": "mg", "system": UCUM, "code": "mg"}}
            ],
        }
        repeat: dict[str, Any] = {"boundsPeriod": {"start": m["start"]}}
        if "end" in m:
            repeat["boundsPeriod"]["end"] = m["end"]
        kept = {"drug": m["drug"], "dose": m["dose"], "unit": "mg", "route": m["route"], "start": m["start"]}
        if "end" in m:
            kept["end"] = m["end"]
        if m.get("frequency") in TIMINGS:
            freq, period, unit = TIMINGS[m["frequency"]]
            repeat.update({"frequency": freq, "period": period, "periodUnit": unit})
            kept["frequency"] = m["frequency"]
        dosage["timing"] = {"repeat": repeat}
        res = {
            "resourceType": "MedicationRequest",
            "status": status,
            "intent": "order",
            "medicationCodeableConcept": drug,
            "subject": subject,
            "authoredOn": m["start"],
            "dosageInstruction": [dosage],
        }
        if m.get("outcome") in ("inefficacy", "adverse_effect"):
            res["statusReason"] = _concept(codes.outcome(m["outcome"]))
            kept["outcome"] = m["outcome"]
        add(res)
        carried["medications"].append(kept)
    carried["medications"] += infusions  # the importer adds administrations after the requests
    return resources, {k: v for k, v in carried.items() if v != []}


def _open(path: Path, compress: bool) -> Any:
    if compress:
        return gzip.open(path, "wt", encoding="utf-8")
    return path.open("w", encoding="utf-8")


def write_fhir(
    out: Path,
    n: int,
    seed: int = 1,
    as_of: date = date(2026, 11, 25),
    *,
    compress: bool = False,
    native: Path | None = None,
) -> dict[str, int]:
    """Write ``n`` patients as a Bulk Data folder ``out``; return the resources per type."""
    codes = Codes()
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    suffix = ".ndjson.gz" if compress else ".ndjson"
    handles: dict[str, Any] = {}
    counts: dict[str, int] = {}
    with contextlib.ExitStack() as stack:
        carried_out = stack.enter_context(native.open("w", encoding="utf-8")) if native is not None else None
        for i in range(n):
            resources, carried = to_fhir(native_patient(rng, i, as_of), codes)
            for res in resources:
                kind = res["resourceType"]
                if kind not in handles:
                    handles[kind] = stack.enter_context(_open(out / f"{kind}{suffix}", compress))
                handles[kind].write(json.dumps(res, separators=(",", ":")) + "\n")
                counts[kind] = counts.get(kind, 0) + 1
            if carried_out is not None:
                carried_out.write(json.dumps(carried, separators=(",", ":")) + "\n")
    manifest = {
        "transactionTime": f"{as_of.isoformat()}T00:00:00Z",
        "request": "generate_fhir.py",
        "requiresAccessToken": False,
        "output": [
            {"type": kind, "url": f"{kind}{suffix}", "count": counts[kind]} for kind in sorted(counts)
        ],
        "error": [],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 11, 25))
    parser.add_argument("--out", type=Path, required=True, help="Bulk Data folder to write")
    parser.add_argument("--gzip", action="store_true", help="write .ndjson.gz files")
    parser.add_argument("--native", type=Path, default=None, help="also write the carried native JSONL")
    args = parser.parse_args(argv)
    counts = write_fhir(args.out, args.n, args.seed, args.as_of, compress=args.gzip, native=args.native)
    print(f"{args.n} patients, {sum(counts.values())} resources written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
