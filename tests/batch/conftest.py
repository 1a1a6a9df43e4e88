"""Shared helpers for batch tests: native patients as JSON-ready dicts."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from screener.yamlio import load_file

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules" / "nct03562065"
FIXTURE = ROOT / "fixtures" / "patients" / "eligible_refractory_lupus.yaml"
AS_OF = date(2026, 11, 25)


def base_patient() -> dict[str, Any]:
    data, _ = load_file(FIXTURE)
    return json.loads(json.dumps(data))


def variant(i: int) -> dict[str, Any]:
    """A deterministic mix: eligible, renal failure, low SLEDAI, missing consent, recent rituximab."""
    p = copy.deepcopy(base_patient())
    p["patient_id"] = f"p{i:04d}"
    kind = i % 5
    if kind == 1:  # creatinine high enough for CrCl < 30
        for o in p["observations"]:
            if o["name"] == "creatinine":
                o["value"], o["unit"] = 2.9, "mg/dL"
                # the reference range stays in the unit it was written in
                o["reference_range"] = {**o.get("reference_range", {}), "unit": "umol/L"}
    elif kind == 2:
        p["assessments"][0]["score"] = 4
    elif kind == 3:
        p["statuses"] = [s for s in p["statuses"] if s["name"] != "informed_consent"]
    elif kind == 4:
        p["medications"].append(
            {
                "drug": "rituximab",
                "dose": 1000,
                "unit": "mg",
                "route": "iv",
                "frequency": "once",
                "start": "2026-09-01",
                "outcome": "inefficacy",
            }
        )
    return p


def write_jsonl(path: Path, patients: list[Any], extra_lines: dict[int, str] | None = None) -> Path:
    lines = [json.dumps(p) for p in patients]
    for at, text in sorted((extra_lines or {}).items()):
        lines.insert(at, text)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture()
def registry(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "registry.jsonl", [variant(i) for i in range(23)])


def batch_cli(out: Path, *inputs_: Path, extra: tuple[str, ...] = ()) -> list[str]:
    """``screener batch`` arguments: these inputs, the bundled rules, AS_OF, one worker."""
    return [
        "batch",
        *map(str, inputs_),
        "--rules",
        str(RULES),
        "--as-of",
        AS_OF.isoformat(),
        "--out",
        str(out),
        "--workers",
        "1",
        "--no-progress",
        *extra,
    ]
