"""The CLI's last line of defence: whatever escapes a command, the user sees one
``screener: error: INPUT: ...`` line and exit 2, never a traceback (issue 13)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from screener.cli.commands import screen

from .conftest import CORPUS, ELIGIBLE, ROOT, run_cli


@pytest.mark.parametrize(
    ("raised", "fragment"),
    [
        (RecursionError("maximum recursion depth exceeded"), "input nested too deeply to process"),
        (MemoryError(), "input too large for the memory available"),
        (PermissionError(13, "Permission denied", "/some/file"), "/some/file: Permission denied"),
        (RuntimeError("boom\nsecond line"), "unexpected RuntimeError: boom second line (a screener bug"),
    ],
)
def test_anything_escaping_a_command_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, raised: BaseException, fragment: str
) -> None:
    def explode(args: object) -> int:
        raise raised

    monkeypatch.setattr(screen, "run", explode)
    run = run_cli("screen", str(ELIGIBLE))
    assert run.code == 2 and run.out == ""
    assert run.err.count("\n") == 1 and run.err.startswith("screener: error: ")
    assert fragment in run.err
    if not isinstance(raised, OSError):
        assert str(ELIGIBLE) in run.err  # names the input


def test_the_installed_entry_point_prints_no_traceback() -> None:
    """A real process, not just main(): the console script keeps the promise too."""
    bad = CORPUS / "patients" / "billion_laughs.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "screener.cli.main", "screen", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"screener: error: {bad}:6: aliases expand")


def test_a_case_file_that_is_not_utf8_is_a_located_error(tmp_path: Path) -> None:
    rules = tmp_path / "trial"
    (rules / "tests").mkdir(parents=True)
    (rules / "rules.yaml").write_bytes((ROOT / "rules" / "nct03562065" / "rules.yaml").read_bytes())
    (rules / "tests" / "bad.yaml").write_bytes("cases:\n  - note: caf\u00e9\n".encode("latin-1"))
    run = run_cli("test", str(rules))
    assert run.code == 2 and "Traceback" not in run.err and "unexpected" not in run.err
    assert run.errors == [
        f"screener: error: {rules / 'tests' / 'bad.yaml'}:2: file is not UTF-8 text: "
        "byte 0xe9 cannot be decoded (Latin-1 or another encoding?)"
    ]
