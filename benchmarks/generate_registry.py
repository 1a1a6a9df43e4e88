"""Write a synthetic lupus registry in screener's native format, one patient per JSONL line.

    python benchmarks/generate_registry.py --n 10000 --seed 1 --as-of 2026-11-25 --out /tmp/registry.jsonl
    python benchmarks/generate_registry.py --n 1000000 --tables /tmp/registry-tables   # columnar only

``--tables DIR`` also (or, without ``--out``, instead) writes the registry as columnar
tables (:mod:`screener.tables`): each patient is loaded with ``patient_from_data``, as
``screener batch`` loads it, then added to a ``TablesWriter``; the result is what
``screener convert --to tables DIR registry.jsonl`` gives from the JSONL file.

Patients are random but plausible for a refractory-SLE pre-screening registry:
mostly women aged 16-80, labs mostly in range with tails crossing every
exclusion threshold, SELENA-SLEDAI 0-20, glucocorticoid and immunosuppressant
histories of varying dose, duration and outcome, some recent biologics, some
missing or stale values. Records are histories, as an EHR export holds them: most labs
have several results over months (drifting values, the latest at a varying age),
glucocorticoid courses are tapered through several dose periods before they stop,
current prednisone often follows a higher dose, conditions have an onset and, when
resolved, an end. The same seed gives the same file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

STATUSES = (
    "pregnant",
    "breastfeeding",
    "childbearing_potential",
    "contraception_required",
    "effective_contraception",
    "heart_failure_signs",
    "uncontrolled_ventricular_arrhythmia",
    "severe_psychiatric_disorder",
    "in_other_study",
    "legal_protection",
    "informed_consent",
    "social_security",
    "national_register_exclusion",
    "incapacity_to_consent",
    "poor_compliance",
)
PERSON_ONLY = (  # counted only when a person confirmed them
    "informed_consent",
    "social_security",
    "national_register_exclusion",
    "incapacity_to_consent",
    "poor_compliance",
)
GLUCOCORTICOIDS = (("prednisone", (5, 7.5, 10, 20, 40)), ("methylprednisolone", (4, 8, 16)))
IMMUNOSUPPRESSANTS = (
    ("mycophenolate_mofetil", (500, 1000, 1500), "bid", "oral"),
    ("azathioprine", (50, 100, 150), "daily", "oral"),
    ("methotrexate", (15, 20, 25), "weekly", "oral"),
    ("cyclophosphamide", (500, 750, 1000), "monthly", "iv"),
    ("rituximab", (375, 700, 1000), "once", "iv"),
    ("belimumab", (600, 700), "every_4_weeks", "iv"),
    ("cyclosporine", (100, 150), "bid", "oral"),
    ("leflunomide", (10, 20), "daily", "oral"),
)


def patient(rng: random.Random, i: int, as_of: date) -> dict[str, Any]:
    def ago(days: int) -> str:
        return (as_of - timedelta(days=days)).isoformat()

    sex = "female" if rng.random() < 0.85 else "male"
    demographics: dict[str, Any] = {"sex": sex}
    if rng.random() < 0.97:
        demographics["birth_date"] = ago(rng.randint(16 * 365, 80 * 365))
    observations: list[dict[str, Any]] = []

    def obs(name: str, value: Any, unit: str | None, age_days: int, **extra: Any) -> None:
        item: dict[str, Any] = {"name": name, "value": value, "date": ago(age_days), **extra}
        if unit:
            item["unit"] = unit
        observations.append(item)

    def lab_age() -> int:
        return rng.choice((3, 10, 20, 45, 75))

    def history(
        name: str, value: float, unit: str | None, age_days: int, digits: int = 2, **extra: Any
    ) -> None:
        """A lab followed over time: the latest result at ``age_days``, then 0-5 older ones
        every 1-6 months, within 15 % of it (a patient's course, not one value)."""
        obs(name, value, unit, age_days, **extra)
        for _ in range(rng.choice((0, 1, 1, 2, 3, 5))):
            age_days += rng.randint(30, 180)
            older = value * rng.uniform(0.85, 1.15)  # around the latest, within plausible bounds
            obs(name, round(older, digits) if digits else round(older), unit, age_days)

    if rng.random() < 0.9:
        history("weight", round(rng.gauss(68 if sex == "female" else 80, 14), 1), "kg", lab_age(), 1)
    if rng.random() < 0.8:
        obs("height", rng.randint(150, 190), "cm", 400)
    if rng.random() < 0.92:
        if rng.random() < 0.5:
            history("creatinine", round(rng.lognormvariate(-0.1, 0.5), 2), "mg/dL", lab_age())
        else:
            history("creatinine", round(rng.lognormvariate(4.3, 0.5)), "umol/L", lab_age(), 0)
    for name in ("ast", "alt"):
        if rng.random() < 0.85:
            extra: dict[str, Any] = {"reference_range": {"high": 40}} if rng.random() < 0.6 else {}
            value = round(rng.lognormvariate(3.3, 0.6))
            if value > 80:
                extra["attributed_to_sle"] = rng.random() < 0.5
            history(name, max(value, 5), "U/L", lab_age(), 0, **extra)
    for name, mu, sigma, unit, low in (
        ("neutrophils", 3.5, 1.5, "10*9/L", 0.5),
        ("platelets", 220, 80, "10*9/L", 30),
        ("hemoglobin", 12, 1.8, "g/dL", 8),
        ("cd4", 650, 280, "10*6/L", 200),
    ):
        if rng.random() < 0.8:
            value = round(max(rng.gauss(mu, sigma), low * 0.3), 2)
            extra = {"attributed_to_sle": rng.random() < 0.6} if value < low else {}
            history(name, value, unit, lab_age(), **extra)
    if rng.random() < 0.6:
        obs("lvef", rng.randint(30, 70), "%", rng.randint(10, 500), method="echocardiography")
        obs("pap_mean", rng.randint(12, 60), "mm[Hg]", rng.randint(10, 500), method="echocardiography")
    if rng.random() < 0.4:
        obs("pao2", rng.randint(60, 100), "mm[Hg]", lab_age(), on_oxygen=rng.random() < 0.2)
        obs("paco2", rng.randint(32, 55), "mm[Hg]", lab_age(), on_oxygen=rng.random() < 0.2)
    if rng.random() < 0.9:
        obs("ana", "positive" if rng.random() < 0.95 else "negative", None, rng.randint(100, 4000))
    for name in ("hiv", "htlv", "hbsag", "hcv_rna"):
        if rng.random() < 0.75:
            obs(name, "positive" if rng.random() < 0.02 else "negative", None, rng.randint(10, 500))
    if sex == "female" and rng.random() < 0.5:
        obs("pregnancy_test", "positive" if rng.random() < 0.03 else "negative", None, rng.randint(0, 30))

    statuses = []
    for name in STATUSES:
        if rng.random() < 0.7:
            value = rng.random() < (0.9 if name in ("informed_consent", "social_security") else 0.05)
            if name in ("childbearing_potential", "contraception_required", "effective_contraception"):
                value = rng.random() < 0.7
            status = {"name": name, "value": value, "date": ago(rng.randint(0, 40))}
            if name in PERSON_ONLY and rng.random() < 0.8:
                status["confirmed_by"] = rng.choice(("investigator", "research nurse"))
            statuses.append(status)

    conditions: list[dict[str, Any]] = []
    if rng.random() < 0.97:
        sle: dict[str, Any] = {"name": "sle", "onset": ago(rng.randint(365, 7000))}
        if rng.random() < 0.8:
            sle["classification"] = rng.choice(("acr_1997", "acr_1982", "slicc_2012"))
            sle["criteria_met"] = rng.randint(3, 8)
        conditions.append(sle)
    for name, p in (("heart_failure", 0.02), ("neoplasia", 0.03), ("substance_abuse", 0.02)):
        if rng.random() < p:
            item: dict[str, Any] = {"name": name, "status": rng.choice(("active", "resolved"))}
            onset = rng.randint(60, 5000)
            item["onset"] = ago(onset)
            if item["status"] == "resolved":  # abated some time after its onset
                item["end"] = ago(max(onset - rng.randint(30, 900), 1))
            if name == "neoplasia":
                item["type"] = rng.choice(("basal_cell_carcinoma", "breast_cancer"))
            conditions.append(item)

    medications: list[dict[str, Any]] = []
    for drug, doses in GLUCOCORTICOIDS:
        if rng.random() < 0.6:  # a course: 1-4 periods of decreasing dose, then stopped
            start = rng.randint(40, 3000)
            steps = sorted(rng.sample(doses, rng.randint(1, min(4, len(doses)))), reverse=True)
            outcome = rng.choice(("inefficacy", "adverse_effect", "response", "completed"))
            for k, dose in enumerate(steps):
                end = max(start - rng.randint(10, 200), 1)
                medications.append(
                    {
                        "drug": drug,
                        "dose": dose,
                        "unit": "mg",
                        "route": "oral",
                        "frequency": "daily",
                        "start": ago(start),
                        "end": ago(end),
                        **({"outcome": outcome} if k == len(steps) - 1 else {}),
                    }
                )
                start = end - 1
                if start < 2:
                    break
    if rng.random() < 0.8:  # current prednisone, often after a higher dose it was lowered from
        start = rng.randint(5, 400)
        if rng.random() < 0.5:
            medications.append(
                {
                    "drug": "prednisone",
                    "dose": rng.choice((15, 20, 30)),
                    "unit": "mg",
                    "route": "oral",
                    "frequency": "daily",
                    "start": ago(start + rng.randint(20, 120)),
                    "end": ago(start + 1),
                }
            )
        medications.append(
            {
                "drug": "prednisone",
                "dose": rng.choice((5, 7.5, 10)),
                "unit": "mg",
                "route": "oral",
                "frequency": "daily",
                "start": ago(start),
            }
        )
    for drug, doses, frequency, route in rng.sample(IMMUNOSUPPRESSANTS, rng.randint(0, 3)):
        start = rng.randint(30, 2500)
        item = {
            "drug": drug,
            "dose": rng.choice(doses),
            "unit": "mg",
            "route": route,
            "frequency": frequency,
            "start": ago(start),
            "outcome": rng.choice(("inefficacy", "adverse_effect", "response")),
        }
        if frequency == "once":
            item["administrations"] = sorted({ago(max(start - 7 * k, 0)) for k in range(rng.randint(1, 4))})
        elif rng.random() < 0.7:
            item["end"] = ago(max(start - rng.randint(30, 400), 1))
        medications.append(item)

    data: dict[str, Any] = {
        "schema_version": "1",
        "patient_id": f"reg-{i:07d}",
        "demographics": demographics,
        "observations": observations,
        "statuses": statuses,
        "conditions": conditions,
        "medications": medications,
    }
    if rng.random() < 0.85:
        data["assessments"] = [
            {"name": "selena_sledai", "score": rng.randint(0, 20), "date": ago(rng.choice((2, 10, 25, 45)))}
        ]
    return data


def write_registry(
    out: Path | None,
    n: int,
    seed: int = 1,
    as_of: date = date(2026, 11, 25),
    *,
    tables: Path | None = None,
    chunk_size: int = 50_000,
) -> Path | None:
    """Write ``n`` patients to ``out`` (JSONL) and/or ``tables`` (a columnar registry, replaced
    if it already holds one). Returns ``out``. A patient the loader refuses is written to the
    JSONL file as generated but left out of the tables, with a message on stderr."""
    if out is None and tables is None:
        raise ValueError("nothing to write: give out and/or tables")
    rng = random.Random(seed)
    with contextlib.ExitStack() as stack:
        handle = stack.enter_context(out.open("w", encoding="utf-8")) if out is not None else None
        writer = None
        if tables is not None:
            from screener.errors import ScreenerError
            from screener.model.patient import patient_from_data
            from screener.tables.write import TablesWriter
            from screener.yamlio import LineMap

            source = str(out) if out is not None else f"generate_registry(seed={seed}, n={n})"
            lines = LineMap(source, {})  # as batch loads a JSONL line: no line map, the file as source
            writer = stack.enter_context(TablesWriter(tables, chunk_size, overwrite=True, sources=[source]))
        for i in range(n):
            data = patient(rng, i, as_of)
            if handle is not None:
                handle.write(json.dumps(data, separators=(",", ":")) + "\n")
            if writer is not None:
                try:
                    writer.add(patient_from_data(data, lines), i + 1 if handle is not None else None)
                except ScreenerError as error:
                    print(
                        f"patient {i + 1} ({data['patient_id']}) not in the tables: {error}", file=sys.stderr
                    )
                    writer.add_errors()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 11, 25))
    parser.add_argument("--out", type=Path, default=None, help="JSONL file to write")
    parser.add_argument(
        "--tables", type=Path, default=None, help="also write a columnar registry here (replaces one)"
    )
    parser.add_argument("--chunk-size", type=int, default=50_000, help="tables: patients per Parquet part")
    args = parser.parse_args(argv)
    if args.out is None and args.tables is None:
        parser.error("give --out FILE, --tables DIR or both")
    write_registry(args.out, args.n, args.seed, args.as_of, tables=args.tables, chunk_size=args.chunk_size)
    if args.out is not None:
        print(f"{args.n} patients written to {args.out}", file=sys.stderr)
    if args.tables is not None:
        from screener.tables.write import read_manifest

        print(f"{read_manifest(args.tables)['patients']} patients written to {args.tables}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
