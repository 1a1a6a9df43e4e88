"""Running the CLI in-process and checking the one-line error contract."""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

from screener.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "data" / "hostile"
RULES = ROOT / "rules" / "nct03562065"
ELIGIBLE = ROOT / "fixtures" / "patients" / "eligible_refractory_lupus.yaml"
AS_OF = "2026-11-25"


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    @property
    def errors(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("screener: error:")]


def run_cli(*argv: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exit_:  # argparse
            code = int(exit_.code or 0)
    return Run(code, out.getvalue(), err.getvalue())


def assert_result_or_located_error(run: Run, file: Path | str) -> None:
    """Either a result (exit 0), or exactly one ``screener: error: FILE[:LINE]...`` line and exit 2.

    Never a traceback, and never the guard's "unexpected" message (which would mean an
    input reached code that did not expect it).
    """
    assert "Traceback" not in run.err, run.err
    assert "unexpected" not in run.err, run.err
    if run.code == 0:
        assert run.out.strip(), "a result is printed"
        return
    assert run.code == 2, (run.code, run.err)
    assert len(run.errors) == 1, run.err
    assert re.match(rf"screener: error: {re.escape(str(file))}(:\d+)?: \S", run.errors[0]), run.errors[0]
