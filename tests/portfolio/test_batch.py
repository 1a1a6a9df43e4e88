"""``screener batch --rules DIR``: the portfolio batch equals one single-trial batch per trial,
on both engines; the wide matrix equals the long rows; the vectorized pass equals the engine;
a broken rule set is named and the other trials are screened."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from screener.cli.main import main
from screener.model.patient import patient_from_data
from screener.yamlio import LineMap, load_file

from ..batch.conftest import AS_OF, variant

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules"
TRIAL_DIRS = sorted(p.parent for p in RULES.glob("*/rules.yaml"))
STORIES = sorted((ROOT / "fixtures" / "patients").glob("*.yaml"))


def _patients() -> list[dict[str, Any]]:
    """The three stories, the batch tests' variants, a patient who died and one whose lupus
    diagnosis is unconfirmed (the records the fast path hands to the engine)."""
    out = []
    for story in STORIES:
        data, _ = load_file(story)
        out.append(json.loads(json.dumps(data)))
    out.extend(variant(i) for i in range(10))
    dead = copy.deepcopy(variant(0))
    dead["patient_id"] = "dead"
    dead["demographics"]["deceased"] = "2026-10-01"
    out.append(dead)
    unsure = copy.deepcopy(variant(0))
    unsure["patient_id"] = "unconfirmed"
    for condition in unsure.get("conditions", []):
        condition["verification"] = "unconfirmed"
    out.append(unsure)
    return out


N_PATIENTS = len(_patients())


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("portfolio-batch")
    patients = _patients()
    jsonl = folder / "patients.jsonl"
    jsonl.write_text("\n".join(json.dumps(p) for p in patients) + "\n{not json\n", encoding="utf-8")
    from screener.tables.write import TablesWriter

    with TablesWriter(folder / "registry") as writer:
        for i, data in enumerate(patients):
            writer.add(patient_from_data(data, LineMap(f"p{i}.yaml", {})))
    return {"jsonl": jsonl, "registry": folder / "registry", "folder": folder}


def _batch(
    capsys: pytest.CaptureFixture[str], source: Path, rules: Path, out: Path, *extra: str
) -> tuple[int, str]:
    code = main(
        [
            "batch",
            str(source),
            "--rules",
            str(rules),
            "--as-of",
            AS_OF.isoformat(),
            "--out",
            str(out),
            "--workers",
            "1",
            "--no-progress",
            "--overwrite",
            *extra,
        ]
    )
    return code, capsys.readouterr().out


_LONG: dict[tuple[Path, str], tuple[int, str, Path]] = {}


def _long(capsys: pytest.CaptureFixture[str], inputs: dict[str, Path], engine: str) -> tuple[int, str, Path]:
    """The long rows of every trial on ``engine`` (exit code, stdout, rows file): one run per
    module, which several tests read."""
    key = (inputs["folder"], engine)
    if key not in _LONG:
        source = inputs["jsonl"] if engine == "durable" else inputs["registry"]
        out = inputs["folder"] / f"long-{engine}.jsonl"
        code, text = _batch(capsys, source, RULES, out, "--engine", engine)
        _LONG[key] = (code, text, out)
    return _LONG[key]


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _section(text: str, trial: str) -> list[str]:
    """A trial's funnel table from the batch's stdout, without the command line."""
    lines = text.split(f"== {trial} ==\n", 1)[1].split("\n\n", 1)[0].splitlines()
    return [line for line in lines if not line.startswith("command:")]


@pytest.mark.parametrize("engine", ["durable", "vectorized"])
def test_portfolio_rows_and_funnels_equal_single_trial_batches(
    engine: str, inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    source = inputs["jsonl"] if engine == "durable" else inputs["registry"]
    folder = inputs["folder"] / engine
    folder.mkdir(exist_ok=True)
    code, text, all_rows = _long(capsys, inputs, engine)
    assert code == (1 if engine == "durable" else 0)  # durable: the one unreadable line
    rows = _rows(all_rows)
    assert len(rows) == N_PATIENTS * len(TRIAL_DIRS)
    for trial_dir in TRIAL_DIRS:
        single_out = folder / f"{trial_dir.name}.jsonl"
        code, single_text = _batch(capsys, source, trial_dir, single_out, "--engine", engine)
        single = _rows(single_out)
        trial = single[0]["ruleset_id"].upper()
        mine = [{k: v for k, v in r.items() if k != "trial"} for r in rows if r["trial"] == trial]
        assert mine == single, trial
        single_lines = [line for line in single_text.splitlines() if not line.startswith("command:")]
        assert _section(text, trial) == single_lines
    if engine == "durable":
        errors = _rows(all_rows.with_name(all_rows.name + ".errors.jsonl"))
        assert len(errors) == 1 and errors[0]["line"] == N_PATIENTS + 1  # reported once, not once per trial


def test_the_vectorized_pass_agrees_with_the_engine(
    inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    engine_rows, fast_rows = (_long(capsys, inputs, engine)[2] for engine in ("durable", "vectorized"))

    def decisions(path: Path) -> dict[tuple[str, str], tuple[Any, ...]]:
        # the missing facts and near misses too: computed in SQL on the vectorized pass
        return {
            (r["patient_id"], r["trial"]): (
                r["decision"],
                r["failing"],
                r["unknown"],
                r["near_misses"],
                r["decision_reason"],
            )
            for r in _rows(path)
        }

    engine, fast = decisions(engine_rows), decisions(fast_rows)
    assert engine == fast
    assert {row[0] for row in engine.values()} == {"eligible", "incomplete", "ineligible"}
    assert any(u["missing"] for row in fast.values() for u in row[2])
    assert engine[("dead", "NCT03562065")][0] == "ineligible"


@pytest.mark.parametrize("engine", ["durable", "vectorized"])
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_wide_is_the_patient_by_trial_matrix_of_the_long_rows(
    engine: str, fmt: str, inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    source = inputs["jsonl"] if engine == "durable" else inputs["registry"]
    folder = inputs["folder"] / f"wide-{engine}-{fmt}"
    folder.mkdir(exist_ok=True)
    _batch(capsys, source, RULES, folder / f"wide.{fmt}", "--engine", engine, "--wide")
    long = {
        (r["patient_id"], r["trial"]): (r["decision"], r["eligible_from"])
        for r in _rows(_long(capsys, inputs, engine)[2])
    }
    trials = sorted({t for _, t in long})
    if fmt == "jsonl":
        wide = {
            (r["patient_id"], t): (cell["decision"], cell["eligible_from"])
            for r in _rows(folder / "wide.jsonl")
            for t, cell in r["trials"].items()
        }
    else:
        import csv

        with (folder / "wide.csv").open(encoding="utf-8", newline="") as handle:
            table = list(csv.DictReader(handle))
        assert list(table[0])[5:] == [c for t in trials for c in (t, f"{t}_eligible_from")]
        wide = {(r["patient_id"], t): (r[t], r[f"{t}_eligible_from"] or None) for r in table for t in trials}
    assert wide == long
    assert len({p for p, _ in wide}) == N_PATIENTS


def test_a_broken_rule_set_is_named_and_the_others_screened(
    inputs: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "rules"
    for name in ("nct03562065", "nct04184258"):
        shutil.copytree(RULES / name, folder / name)
    bad = folder / "nct04184258" / "rules.yaml"
    bad.write_text(
        bad.read_text(encoding="utf-8").replace('schema_version: "1"', 'schema_version: "7"'), "utf-8"
    )
    out = tmp_path / "out.jsonl"
    argv = ["batch", str(inputs["jsonl"]), "--rules", str(folder), "--as-of", AS_OF.isoformat()]
    code = main([*argv, "--out", str(out), "--workers", "1", "--no-progress"])
    text, err = capsys.readouterr()
    assert f"screener: error: {bad}:11: schema_version" in err
    assert code == 2
    assert {r["trial"] for r in _rows(out)} == {"NCT03562065"}
    assert "== nct04184258: NOT SCREENED ==" in text and f"{bad}:" in text


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--resume", "--engine", "vectorized"), "cannot be resumed yet"),
        (("--scheduler", "tcp://x:1"), "--scheduler"),
        (("--engine", "vectorized", "--memory-limit", "300MB"), "does not cap DuckDB's memory yet"),
    ],
)
def test_what_a_portfolio_batch_does_not_do_is_refused_before_anything_is_written(
    extra: tuple[str, ...],
    message: str,
    inputs: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    code = main(
        ["batch", str(inputs["jsonl"]), "--rules", str(RULES), "--out", str(tmp_path / "o.csv"), *extra]
    )
    assert code == 2 and message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("wide", [False, True])
def test_an_interrupted_portfolio_batch_resumes_to_the_same_rows_and_funnels(
    wide: bool, inputs: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Stopped after 5 records (chunks of 2), then ``--resume``: the rows, the errors and every
    trial's funnel are those of a run that was never stopped; nothing is screened twice."""
    extra = ("--chunk-size", "2", *(("--wide",) if wide else ()))
    whole_code, whole_text = _batch(capsys, inputs["jsonl"], RULES, tmp_path / "whole.jsonl", *extra)
    out = tmp_path / "resumed.jsonl"
    code, _ = _batch(capsys, inputs["jsonl"], RULES, out, *extra, "--stop-after", "5")
    assert code == 130 and not out.exists() and Path(f"{out}.partial").exists()
    code = main(
        ["batch", str(inputs["jsonl"]), "--rules", str(RULES), "--as-of", AS_OF.isoformat(), "--out",
         str(out), "--workers", "1", "--no-progress", "--resume", *extra]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == whole_code == 1  # the one unreadable line, reported once
    assert "resumed after 5 records" in captured.err
    assert out.read_bytes() == (tmp_path / "whole.jsonl").read_bytes()
    assert _rows(tmp_path / "resumed.jsonl.errors.jsonl") == _rows(tmp_path / "whole.jsonl.errors.jsonl")
    for trial in (t.name.upper() for t in TRIAL_DIRS):  # every funnel counted on from the checkpoint
        assert _section(captured.out, trial) == _section(whole_text, trial)
        assert f"{N_PATIENTS} patients screened" in _section(captured.out, trial)[0]


def test_wide_needs_a_folder_of_rule_sets(
    inputs: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(
        [
            "batch",
            str(inputs["jsonl"]),
            "--rules",
            str(RULES / "nct03562065"),
            "--out",
            str(tmp_path / "o.csv"),
            "--wide",
        ]
    )
    assert code == 2 and "--wide is for --rules DIR" in capsys.readouterr().err
