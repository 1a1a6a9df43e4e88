"""Start-up of one command (issue 17 section 4): each command imports what it needs and reads
each file once. What it costs in time is measured in benchmarks/bench_startup.py, not here."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from screener.cli.main import _command_named, build_parser

ROOT = Path(__file__).resolve().parents[2]
PATIENT = ROOT / "fixtures" / "patients" / "eligible_refractory_lupus.yaml"
HEAVY = ("duckdb", "numpy", "pyarrow", "pandas", "dask", "textual", "screener.batch", "screener.vectorized")
NAMES = ["audit", "batch", "convert", "rules", "screen", "test", "tui"]


def _run(code: str, tmp_path: Path) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter (from the checkout); it writes its findings as JSON."""
    out = tmp_path / "found.json"
    script = textwrap.dedent(code).replace("OUT", repr(str(out)))
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text())


def test_screen_does_not_import_batch_duckdb_numpy_or_textual(tmp_path: Path) -> None:
    found = _run(
        f"""
        import contextlib, io, json, sys
        from screener.cli.main import main
        with contextlib.redirect_stdout(io.StringIO()) as text:
            code = main(["screen", {str(PATIENT)!r}, "--as-of", "2026-11-25"])
        heavy = sorted(m for m in sys.modules if m.startswith({HEAVY!r}))
        json.dump({{"code": code, "heavy": heavy, "out": text.getvalue()[:200]}}, open(OUT, "w"))
        """,
        tmp_path,
    )
    assert found["code"] == 0 and "Patient story-eligible-001" in str(found["out"])  # it did screen
    assert found["heavy"] == []


def test_batch_still_finds_its_modules(tmp_path: Path) -> None:
    """The check above can fail: the batch command does import the batch package."""
    found = _run(
        f"""
        import json, sys
        from screener.cli.main import build_parser
        build_parser(["batch", "x.jsonl"])
        json.dump({{"heavy": sorted(m for m in sys.modules if m.startswith({HEAVY!r}))}}, open(OUT, "w"))
        """,
        tmp_path,
    )
    assert "screener.batch" in found["heavy"]


def test_version_imports_no_command(tmp_path: Path) -> None:
    found = _run(
        """
        import contextlib, io, json, sys
        from screener.cli.main import main
        with contextlib.redirect_stdout(io.StringIO()) as text:
            try:
                main(["--version"])
            except SystemExit as stop:
                code = stop.code
        commands = sorted(m for m in sys.modules if m.startswith("screener.cli.commands."))
        json.dump({"code": code, "commands": commands, "out": text.getvalue()}, open(OUT, "w"))
        """,
        tmp_path,
    )
    assert found["code"] == 0 and str(found["out"]).startswith("screener ")
    assert found["commands"] == []


def test_each_file_is_parsed_once_even_when_every_rule_set_is_consulted(tmp_path: Path) -> None:
    """A patient naming an observation only another shipped rule set defines (egfr, in nct03917797)
    makes the vocabulary check read every rule set; the one being screened is not parsed again."""
    patient = tmp_path / "p.yaml"
    patient.write_text(
        PATIENT.read_text(encoding="utf-8").replace(
            "observations:\n",
            "observations:\n  - {name: egfr, value: 95, unit: mL/min/1.73m2, date: 2026-11-01}\n",
            1,
        ),
        encoding="utf-8",
    )
    found = _run(
        f"""
        import contextlib, io, json
        import screener.yamlio as yamlio
        parsed = []
        original = yamlio.load_text
        def counting(text, file):
            parsed.append(file)
            return original(text, file)
        yamlio.load_text = counting
        for module in ("screener.model.rules", "screener.model.patient", "screener.importers.mapping"):
            __import__(module)
            import sys
            if hasattr(sys.modules[module], "load_text"):
                sys.modules[module].load_text = counting
        from screener.cli.main import main
        with contextlib.redirect_stdout(io.StringIO()) as text:
            code = main(["screen", {str(patient)!r}, "--as-of", "2026-11-25", "--format", "json"])
        json.dump({{"code": code, "parsed": parsed, "out": text.getvalue()[:100]}}, open(OUT, "w"))
        """,
        tmp_path,
    )
    assert found["code"] == 0, found
    parsed = [str(Path(p).resolve()) for p in found["parsed"]]  # type: ignore[union-attr]
    assert len(parsed) == len(set(parsed)), parsed
    rule_files = [p for p in parsed if p.endswith("rules.yaml")]
    assert len(rule_files) >= 2  # the other rule sets were read: the check above is not vacuous


@pytest.mark.parametrize(
    ("argv", "chosen"),
    [
        (["screen", "p.yaml"], "screen"),
        (["--max-input-mb", "5", "screen", "p.yaml"], "screen"),
        (["--max-input-mb=5", "batch", "x"], "batch"),
        (["--max-input-mb", "screen"], None),  # 'screen' is the option's value, not the command
        (["scren", "p.yaml"], None),  # all commands: the error suggests 'screen'
        (["--help"], None),
        ([], None),
    ],
)
def test_the_command_is_the_first_positional_word(argv: list[str], chosen: str | None) -> None:
    assert _command_named(argv, NAMES) == chosen


def test_help_and_misspellings_still_know_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser(["scren"])
    assert set(parser._subparsers._group_actions[0].choices) == set(NAMES)  # type: ignore[union-attr]
    with pytest.raises(SystemExit):
        parser.parse_args(["scren", "p.yaml"])
    assert "did you mean 'screen'?" in capsys.readouterr().err
    assert set(build_parser(["screen", "p"])._subparsers._group_actions[0].choices) == {"screen"}  # type: ignore[union-attr]


def _python_jsonschema_after_screen(patient: Path, tmp_path: Path) -> list[str]:
    found = _run(
        f"""
        import contextlib, io, json, sys
        from screener.cli.main import main
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            main(["screen", {str(patient)!r}, "--as-of", "2026-11-25"])
        mods = sorted(m for m in sys.modules if m == "jsonschema" or m.startswith("jsonschema."))
        json.dump({{"mods": mods}}, open(OUT, "w"))
        """,
        tmp_path,
    )
    return list(found["mods"])  # type: ignore[call-overload]


def test_python_jsonschema_is_imported_only_to_explain_an_invalid_file(tmp_path: Path) -> None:
    """jsonschema-rs answers "valid?"; python-jsonschema (~60 ms to import) writes the messages."""
    assert _python_jsonschema_after_screen(PATIENT, tmp_path) == []
    broken = tmp_path / "broken.yaml"
    broken.write_text(PATIENT.read_text(encoding="utf-8").replace("sex: female", "sex: 3"), encoding="utf-8")
    assert "jsonschema" in _python_jsonschema_after_screen(broken, tmp_path)
