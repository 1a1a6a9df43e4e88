"""Property: whatever the edit to a patient, FHIR or rule file, screener answers with a
result or one located error, never a traceback or a hang (issue 13 section 2).

Each example writes a randomly damaged copy of a valid file (hostile fragments such
as anchors, tags, ``.nan``, huge numbers, year-0 dates, NUL bytes, lone surrogate
escapes, deep brackets and non-UTF-8 encodings, spliced in at random places) and
runs the real command in-process. Time is bounded by hypothesis's per-example
deadline (generous, so a slow machine is not a failure, but a hang is).
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.importers.fhir_builders import LOINC, bundle, patient, quantity_obs

from .conftest import AS_OF, ELIGIBLE, RULES, Run, assert_result_or_located_error, run_cli

PATIENT_TEXT = ELIGIBLE.read_text(encoding="utf-8")
RULES_TEXT = (RULES / "rules.yaml").read_text(encoding="utf-8")
FHIR_TEXT = json.dumps(
    bundle(
        patient(),
        quantity_obs("o1", "29463-7", 61, "kg"),
        {
            "resourceType": "Condition",
            "id": "c1",
            "subject": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "55464009"}]},
            "onsetDateTime": "2019-05-20",
        },
        {
            "resourceType": "Observation",
            "id": "o2",
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "2160-0"}]},
            "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": "2026-11-10",
            "valueQuantity": {"value": 0.8, "unit": "mg/dL"},
            "referenceRange": [{"low": {"value": 0.5}, "high": {"value": 1.1}}],
        },
    ),
    indent=1,
)

FRAGMENTS = [
    "{",
    "}",
    "[",
    "]",
    ": ",
    "- ",
    "&a ",
    "*a",
    "&b [*b]",
    "!!binary ",
    "!!set ",
    "!!timestamp ",
    "!!python/object:os.getcwd ",
    ".nan",
    "-.inf",
    "1e999",
    "1e308",
    "9" * 5000,
    "0000-01-01",
    "2026-02-30",
    "\x00",
    "\x1b[31m",
    "\ufffd",
    '"\\ud800"',
    "<<: *a",
    "\n---\n",
    "\t",
    "no",
    "yes",
    "1:01",
    "'",
    '"',
    "\n",
    "   ",
    "null",
    "~",
    "-1",
    "methotrexat",
    "wieght",
    "neoplasm",
    "? ",
    "[" * 300,
    "{a: " * 80,
    "NaN",
    "Infinity",
    "positve",
    "gtee",
    "all: []",
    "patient_id: x\n",
]


@st.composite
def damaged(draw: st.DrawFn, base: str) -> bytes:
    text = base
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        at = draw(st.integers(min_value=0, max_value=len(text)))
        kind = draw(st.sampled_from(["insert", "delete", "replace", "repeat_line", "drop_line"]))
        if kind == "insert":
            text = text[:at] + draw(st.sampled_from(FRAGMENTS)) + text[at:]
        elif kind == "delete":
            text = text[:at] + text[at + draw(st.integers(min_value=1, max_value=40)) :]
        elif kind == "replace":
            text = text[:at] + draw(st.text(max_size=8)) + text[at + 1 :]
        else:
            lines = text.splitlines(keepends=True)
            if lines:
                i = draw(st.integers(min_value=0, max_value=len(lines) - 1))
                lines[i : i + 1] = [lines[i], lines[i]] if kind == "repeat_line" else []
                text = "".join(lines)
    encoding = draw(st.sampled_from(["utf-8"] * 6 + ["utf-16", "latin-1", "bytes"]))
    if encoding == "bytes":
        raw = text.encode("utf-8", "surrogatepass")
        at = draw(st.integers(min_value=0, max_value=len(raw)))
        return raw[:at] + draw(st.binary(min_size=1, max_size=16)) + raw[at:]
    return text.encode(encoding, "surrogatepass" if encoding == "utf-8" else "replace")


# 40 fixed examples per input kind in CI; SCREENER_FUZZ_EXAMPLES=N explores N random ones.
_EXPLORE = int(os.environ.get("SCREENER_FUZZ_EXAMPLES", "0"))
FUZZ = settings(
    max_examples=_EXPLORE or 40,
    deadline=timedelta(seconds=60),
    derandomize=not _EXPLORE,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _write(data: bytes, name: str, folder: str) -> Path:
    path = Path(folder) / name
    path.write_bytes(data)
    return path


@FUZZ
@given(damaged(PATIENT_TEXT))
def test_a_damaged_patient_file_gives_a_result_or_one_located_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = _write(data, "patient.yaml", folder)
        assert_result_or_located_error(run_cli("screen", str(path), "--as-of", AS_OF), path)


@FUZZ
@given(damaged(FHIR_TEXT))
def test_a_damaged_fhir_bundle_gives_a_result_or_one_located_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = _write(data, "bundle.json", folder)
        assert_result_or_located_error(run_cli("screen", str(path), "--as-of", AS_OF), path)


def _check_lines_name_the_file(run: Run, path: Path) -> None:
    assert "Traceback" not in run.err and "unexpected" not in run.err, run.err
    assert run.code in (0, 1, 2), run.err
    problems = [line for line in run.err.splitlines() if "rule file(s):" not in line]
    for line in problems:
        assert line.startswith((f"{path}", f"screener: error: {path}")), line


@FUZZ
@given(damaged(RULES_TEXT))
def test_a_damaged_rule_file_is_checked_and_screened_without_a_traceback(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = _write(data, "rules.yaml", folder)
        _check_lines_name_the_file(run_cli("rules", "check", str(path)), path)
        screen = run_cli("screen", str(ELIGIBLE), "--rules", str(path), "--as-of", AS_OF)
        assert_result_or_located_error(screen, path)
