"""Usage errors name the subcommand and suggest a spelling; every --help lists exit codes."""

from __future__ import annotations

import pytest

from screener.cli.main import build_parser, main
from screener.cli.usage import EXIT_CODES


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    assert info.value.code == 2
    return capsys.readouterr().err


def test_a_misspelled_flag_shows_the_subcommands_usage_and_the_right_flag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    err = usage_error(capsys, "screen", "p.yaml", "--rulse", "rules/x")
    assert err.startswith("usage: screener screen ")
    assert "screener screen: error: unrecognized arguments: --rulse rules/x" in err
    assert "did you mean --rules?" in err


def test_nested_subcommands_too(capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(capsys, "rules", "report", "rules/", "--ot", "x.html")
    assert err.startswith("usage: screener rules report ") and "did you mean --out?" in err


def test_nothing_close_suggests_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(capsys, "batch", "in.jsonl", "--out", "o.csv", "--zzzzzz")
    assert err.startswith("usage: screener batch ") and "did you mean" not in err


def test_misspelled_choices_get_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    assert "did you mean 'screen'?" in usage_error(capsys, "scren", "p.yaml")
    assert "did you mean 'json'?" in usage_error(capsys, "screen", "p.yaml", "--format", "jsno")


def test_every_help_lists_its_exit_codes() -> None:
    parser = build_parser()
    assert "exit codes:" in parser.format_help()
    seen = []

    def walk(p, path: str) -> None:
        import argparse

        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    full = f"{path} {name}".strip()
                    seen.append(full)
                    expected = "".join(f"exit codes: {EXIT_CODES[full]}".split())
                    assert expected in "".join(sub.format_help().split()), full
                    walk(sub, full)

    walk(parser, "")
    assert {"screen", "batch", "convert", "tui", "test", "rules check", "audit verify"} <= set(seen)


def test_tui_help_says_it_reads_fhir() -> None:
    text = " ".join(build_parser()._subparsers._group_actions[0].choices["tui"].format_help().split())
    assert "FHIR R4 Bundle" in text
