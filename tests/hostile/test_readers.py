"""The strict readers (screener.yamlio, screener.fileio): YAML 1.2 values, refusals with
their line, and the caps (depth, alias expansion, file size) on both sides of the limit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from screener import fileio
from screener.fileio import MAX_DEPTH, JsonInputError, loads_json, read_json
from screener.yamlio import MAX_ALIAS_EXPANSION, InputFormatError, load_file, load_text

from .conftest import ELIGIBLE, run_cli


def refused(text: str) -> InputFormatError:
    with pytest.raises(InputFormatError) as info:
        load_text(text, "f.yaml")
    return info.value


def line_of(error: yaml.YAMLError) -> int | None:
    mark = getattr(error, "problem_mark", None)
    return mark.line + 1 if mark is not None else None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1:01", "1:01"),  # YAML 1.1: 61 (sexagesimal)
        ("no", "no"),  # YAML 1.1: False
        ("yes", "yes"),
        ("on", "on"),
        ("010", 10),  # YAML 1.1: 8 (octal)
        ("0o10", 8),
        ("0x1f", 31),
        ("1e3", 1000.0),  # YAML 1.1: the text '1e3'
        ("1_000", "1_000"),  # YAML 1.1: 1000
        ("2026-11-25", "2026-11-25"),  # dates stay text for the schema and the model
        ("true", True),
        ("False", False),
        ("~", None),
        ("null", None),
        ("'12'", "12"),
        ("!!str 12", "12"),
        ("!!float 1", 1.0),
        ("-2.5", -2.5),
    ],
)
def test_scalars_follow_yaml_1_2(text: str, value: object) -> None:
    data, _ = load_text(f"v: {text}\n", "f.yaml")
    assert data == {"v": value} and type(data["v"]) is type(value)


def test_keys_are_text_as_written() -> None:
    data, _ = load_text("on: 1\nno: 2\n1: 3\n", "f.yaml")
    assert data == {"on": 1, "no": 2, "1": 3}


def test_line_map_matches_the_file() -> None:
    data, lines = load_text("a:\n  b: [1,\n    2]\n  c:\n    - x\n    - {d: 4}\n", "f.yaml")
    assert data == {"a": {"b": [1, 2], "c": ["x", {"d": 4}]}}
    assert [lines.line(p) for p in (("a",), ("a", "b"), ("a", "b", 1), ("a", "c", 1, "d"))] == [1, 2, 3, 6]


def test_an_alias_copies_its_anchor_so_editing_one_leaves_the_other() -> None:
    data, _ = load_text("a: &x {p: 1}\nb: *x\n", "f.yaml")
    data["b"]["p"] = 2
    assert data["a"] == {"p": 1}


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("a: 1\nb: 2\na: 3\n", 3, "key 'a' is given twice (first at line 1)"),
        ("x:\n  v: 61\n  v: 20\n", 3, "key 'v' is given twice"),
        ("a: !!binary aGVsbG8=\n", 1, "!!binary is not allowed"),
        ("a: !!set {x}\n", 1, "!!set is not allowed"),
        ("a: !!timestamp 2020-01-01\n", 1, "!!timestamp is not allowed"),
        ("a: !!python/object/apply:os.getcwd []\n", 1, "!!python/object/apply:os.getcwd"),
        ("a: !!int x\n", 1, "'x' is not a valid !!int"),
        ("a: .nan\n", 1, ".nan is not a finite number"),
        ("a:\n  - -.inf\n", 2, "-.inf is not a finite number"),
        ("a: 1e999\n", 1, "1e999 is not a finite number"),
        ("a: " + "7" * 4301 + "\n", 1, "is too long to be a value"),
        ("a: &a [*a]\n", 1, "recursive alias *a"),
        ("a: *nowhere\n", 1, "alias *nowhere refers to no anchor"),
        ("a: &x {p: 1}\nb:\n  <<: *x\n", 3, "merge keys (<<) are not supported"),
        ("? [a]\n: 1\n", 1, "a key must be plain text"),
        ("a: 1\n---\nb: 2\n", 2, "more than one YAML document"),
        ("a: 1\nb: \x1b[31m\n", 2, "control character #x001b"),
    ],
)
def test_unsafe_yaml_is_refused_at_its_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(yaml.YAMLError) as info:
        load_text(text, "f.yaml")
    assert fragment in str(info.value)
    assert line_of(info.value) == line


def test_the_largest_integer_python_reads_is_a_value() -> None:
    data, _ = load_text("a: " + "7" * 4300 + "\n", "f.yaml")
    assert data["a"] == int("7" * 4300)


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_nesting_up_to_the_cap_reads_one_level_more_is_refused() -> None:
    data, _ = load_text(_nested(MAX_DEPTH), "f.yaml")
    assert data is not None
    assert "nested deeper than" in str(refused(_nested(MAX_DEPTH + 1)))


def _laughs(copies: int) -> str:
    return "a: &a [x]\nb: [" + ", ".join(["*a"] * copies) + "]\n"


def test_aliases_may_add_up_to_the_cap_and_not_one_value_more() -> None:
    # each *a adds two values (the list and its item)
    data, _ = load_text(_laughs(MAX_ALIAS_EXPANSION // 2), "f.yaml")
    assert len(data["b"]) == MAX_ALIAS_EXPANSION // 2
    assert "aliases expand" in str(refused(_laughs(MAX_ALIAS_EXPANSION // 2 + 1)))


@pytest.mark.parametrize(
    ("raw", "fragment", "line"),
    [
        ("a: caf\u00e9\n".encode("latin-1"), "byte 0xe9 cannot be decoded (Latin-1", 1),
        ("a: 1\n".encode("utf-16"), "file is UTF-16 text", 1),
        ("a: 1\n".encode("utf-32"), "file is UTF-32 text", 1),
        (b"a: 1\nb: \x00\xff\xfe", "(a binary file?)", 2),
    ],
)
def test_files_that_are_not_utf8_are_refused_with_the_line(
    tmp_path: Path, raw: bytes, fragment: str, line: int
) -> None:
    path = tmp_path / "f.yaml"
    path.write_bytes(raw)
    with pytest.raises(InputFormatError) as info:
        load_file(path)
    assert fragment in str(info.value) and line_of(info.value) == line


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert load_file(path)[0] == {"a": 1}


def test_file_size_cap_on_both_sides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fileio, "max_input_bytes", 1000)
    path = tmp_path / "f.yaml"
    path.write_bytes(b"a: " + b"x" * 996 + b"\n")  # exactly 1000 bytes
    assert load_file(path)[0] == {"a": "x" * 996}
    path.write_bytes(b"a: " + b"x" * 997 + b"\n")
    with pytest.raises(InputFormatError, match="larger than"):
        load_file(path)


@pytest.fixture()
def cap_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--max-input-mb`` changes the cap for the whole process (and its workers): undo it."""
    monkeypatch.setattr(fileio, "max_input_bytes", fileio.max_input_bytes)
    monkeypatch.setenv("SCREENER_MAX_INPUT_MB", "0")  # recorded, so the test's value is undone
    monkeypatch.delenv("SCREENER_MAX_INPUT_MB")


def test_dev_zero_is_refused_not_read_forever(cap_restored: None) -> None:
    run = run_cli("--max-input-mb", "1", "screen", "/dev/zero")
    assert run.code == 2
    assert run.errors == [run.err.strip()]
    assert run.err.startswith("screener: error: /dev/zero: file is larger than 1 MB")


def test_max_input_mb_raises_the_cap(tmp_path: Path, cap_restored: None) -> None:
    text = ELIGIBLE.read_text(encoding="utf-8")
    big = tmp_path / "big.yaml"
    big.write_text(text + "#" + "x" * 1_100_000 + "\n", encoding="utf-8")  # a 1.1 MB comment
    refused_run = run_cli("--max-input-mb", "1", "screen", str(big), "--as-of", "2026-11-25")
    assert refused_run.code == 2 and "larger than 1 MB" in refused_run.err
    accepted = run_cli("--max-input-mb", "2", "screen", str(big), "--as-of", "2026-11-25")
    assert accepted.code == 0, accepted.err


def test_the_cap_set_by_a_test_does_not_leak() -> None:
    """Runs after the tests above (file order): the process cap is the default again."""
    assert fileio.max_input_bytes == fileio._env_max_bytes() >= 256 * 2**20


# ------------------------------------------------------------------------------------ JSON


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b'{"id": "a", "id": "b"}', "duplicate key 'id'"),
        (b'{"v": NaN}', "NaN is not a number JSON allows"),
        (b'{"v": -Infinity}', "-Infinity is not a number JSON allows"),
        (b'{"v": 1e999}', "1e999 is not a finite number"),
        (b'{"v": ' + b"1" * 4301 + b"}", "Exceeds the limit (4300 digits)"),
        (b'{"v": "\\ud800"}', "lone surrogate"),
        (b'{"\\udfff": 1}', "lone surrogate"),
        ('{"v": "\u00e9"}'.encode("latin-1"), "not UTF-8"),
        ('{"v": 1}'.encode("utf-16"), "UTF-16"),
        (b"[" * 100_000 + b"]" * 100_000, "nested deeper than"),
        (b'{"v": 1,}', "Expecting property name"),
    ],
)
def test_unsafe_json_is_refused(raw: bytes, fragment: str) -> None:
    with pytest.raises(JsonInputError) as info:
        loads_json(raw)
    assert fragment in str(info.value)
    assert isinstance(info.value, json.JSONDecodeError)  # importers already catch that


def test_json_depth_cap_on_both_sides() -> None:
    assert loads_json("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    with pytest.raises(JsonInputError, match="nested deeper than"):
        loads_json("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))


def test_valid_json_reads_as_before(tmp_path: Path) -> None:
    doc = {"resourceType": "Bundle", "entry": [{"v": 1.5, "s": "caf\u00e9 \U0001f600", "n": None}]}
    path = tmp_path / "b.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert read_json(path) == doc
    with path.open("rb") as handle:
        assert read_json(handle) == doc
