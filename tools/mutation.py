"""Mutation testing of screener modules: would the tests notice a small change to the code?

A small, dependency-free mutation runner (not in CI; see docs/testing.md). For each module it
makes mutants from the syntax tree, one change each (``<`` -> ``<=``, ``+`` -> ``-``, ``and`` ->
``or``, ``not x`` -> ``x``, ``True`` -> ``False``, a number n -> n + 1, ``return x`` -> ``return
None``, ``f(k=v)`` -> ``f(k=None)``, ``x = v`` -> ``x = None``, ``break`` <-> ``continue``, a
string s -> ``"XX" + s + "XX"``), runs a targeted test selection against each, and counts the
mutants no test noticed (survivors).

How a mutant runs: the parent process imports pytest and the heavy third-party packages once,
then forks a child per mutant; the child installs an import hook that loads the mutated source
in place of the module (same file name in tracebacks) and calls ``pytest.main`` with ``-x``.
A non-zero exit kills the mutant; so does running past the time limit (3 x the clean run).
Tests that start subprocesses do not see the mutant: keep them out of the selection.

Message-only mutants are set aside, not run and not scored: a change to the literal text of an
f-string, or to a string constant inside a ``raise`` statement. They change what a message says,
never a decision (the tests that pin messages are for the ones a user reads; see the docs).
Mutants on lines the clean run of the selection never executes are counted as survivors
without being run ("not covered"). Docstrings, annotations, imports and ``# pragma: no cover``
lines are not mutated.

Usage (from the repository root, with the project's venv)::

    .venv/bin/python tools/mutation.py engine            # a profile (see PROFILES)
    .venv/bin/python tools/mutation.py engine --sample 150 --seed 1
    .venv/bin/python tools/mutation.py --module screener/units.py --tests tests/unit/test_units.py
    .venv/bin/python tools/mutation.py engine --list     # the mutants, without running them
    .venv/bin/python tools/mutation.py engine --rerun report.json   # only last run's survivors

The report (``--out``, JSON) lists every survivor with its file, line and change.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib.abc
import importlib.util
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Profiles: the modules and the tests that should notice a change to them. The selections are
# targeted (a run per mutant on a loaded 2-core machine) and leave out tests that start
# subprocesses (a child process would import the unmutated module).
_ENGINE_TESTS = [
    # fast, broad killers first: pytest runs with -x, so a mutant dies at the first failure
    "tests/test_language_suite.py",
    "tests/engine/test_language_logic.py",
    "tests/engine/test_strictness.py",
    "tests/engine/test_eligible_from_age.py",
    # the other engine tests by name: pytest drops a directory given after files inside it
    "tests/engine/test_compile.py",
    "tests/engine/test_durable.py",
    "tests/engine/test_engine.py",
    "tests/engine/test_names.py",
    "tests/engine/test_outcomes.py",
    "tests/engine/test_uncertain.py",
    "tests/unit/test_explain_words.py",
    "tests/unit/test_derivation.py",
    "tests/test_rule_cases.py",
    # a durable_rules session cap test: 20 s of sessions, nothing a mutant here could change
    "--deselect=tests/engine/test_engine.py::test_thousands_of_sessions_do_not_hit_the_session_cap",
]
_FAST_TESTS = [
    "tests/test_language_suite.py",
    "tests/engine/test_strictness.py",
    "tests/engine/test_language_logic.py",
    "tests/test_rule_cases_vectorized.py",
    "tests/batch/test_vectorized.py",
    "tests/batch/test_fast.py",
]
# engine/evaluate.py was split by job (issue 16 section 6): each part is its own module here
_ENGINE_MODULES = [
    f"screener/engine/{name}.py"
    for name in (
        "evaluate",
        "glue",
        "derive",
        "explain",
        "outcome",
        "eligible",
        "names",
        "screening",
        "durable",
        "uncertain",
    )
]
PROFILES: dict[str, tuple[list[str], list[str]]] = {
    "engine": (_ENGINE_MODULES, _ENGINE_TESTS),
    "compile": (["screener/engine/compile.py"], _ENGINE_TESTS),
    "vectorized": (["screener/vectorized/sql.py", "screener/vectorized/screen.py"], _FAST_TESTS),
    # the SQL-prepared route against the Python one, and the units only the SQL converts
    "prepare": (
        ["screener/vectorized/prepare.py", "screener/vectorized/flatten.py"],
        [*_FAST_TESTS, "tests/batch/test_vectorized_tables.py", "tests/batch/test_units_sql.py"],
    ),
    # the full-reason rows in SQL, against the engine's rows
    "reasons": (["screener/vectorized/reasons.py"], ["tests/batch/test_reasons.py"]),
    "clinical": (
        [
            "screener/clinical/renal.py",
            "screener/clinical/body.py",
            "screener/clinical/dates.py",
            "screener/clinical/dosing.py",
            "screener/clinical/labs.py",
        ],
        ["tests/unit/clinical"],
    ),
    "units": (["screener/units.py"], ["tests/unit/test_units.py", "tests/unit/test_unit_bounds.py"]),
}

# Third-party packages the tests import: loaded once in the parent, shared by every child.
_PRELOAD = ("pytest", "durable.lang", "duckdb", "numpy", "jsonschema", "yaml", "hypothesis", "orjson")

_COMPARE_SWAP = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
# Comparison operators written as strings (rule operators, durable_rules and SQL operators): a
# mutant swaps strict and non-strict, so that where ``<`` and ``<=`` are chosen is tested too.
_OPERATOR_STRINGS = {
    "lt": "lte",
    "lte": "lt",
    "gt": "gte",
    "gte": "gt",
    "$lt": "$lte",
    "$lte": "$lt",
    "$gt": "$gte",
    "$gte": "$gt",
    "<": "<=",
    "<=": "<",
    ">": ">=",
    ">=": ">",
    "<= 0": "< 0",
    ">= 0": "> 0",
}
_BINOP_SWAP = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.Div,
    ast.Pow: ast.Mult,
    ast.BitOr: ast.BitAnd,
    ast.BitAnd: ast.BitOr,
    ast.LShift: ast.RShift,
    ast.RShift: ast.LShift,
}


@dataclass(frozen=True)
class Mutant:
    id: str  # <module path>:<node index>:<variant>
    path: str
    line: int
    statement_line: int
    change: str
    message_only: bool
    built_text: bool = False  # f-string text outside a raise (see _built_text)


@dataclass
class Outcome:
    mutant: Mutant
    status: str  # killed | timeout | survived | not covered
    seconds: float


# ------------------------------------------------------------------------------ making mutants


def _parents(tree: ast.AST) -> dict[int, ast.AST]:
    parents: dict[int, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
    return parents


def _skipped(tree: ast.AST, source_lines: list[str]) -> set[int]:
    """ids of nodes never mutated: docstrings, annotations, imports, ``__all__``, no-cover."""
    skip: set[int] = set()

    def drop(node: ast.AST | None) -> None:
        if node is not None:
            skip.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                drop(body[0])
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            drop(node.returns)
            for a in [*node.args.args, *node.args.kwonlyargs, *node.args.posonlyargs]:
                drop(a.annotation)
            for a in (node.args.vararg, node.args.kwarg):
                if a is not None:
                    drop(a.annotation)
        if isinstance(node, ast.AnnAssign):
            drop(node.annotation)
        if isinstance(node, ast.Import | ast.ImportFrom):
            drop(node)
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            drop(node)
        if isinstance(node, ast.stmt) and "pragma: no cover" in source_lines[node.lineno - 1]:
            drop(node)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            drop(node)
    return skip


def _variants(node: ast.AST, parent: ast.AST | None) -> list[str]:
    """The changes that can be made at ``node`` (descriptions; applied by :func:`_apply`)."""
    out: list[str] = []
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in _COMPARE_SWAP:
                out.append(f"compare[{i}] {type(op).__name__} -> {_COMPARE_SWAP[type(op)].__name__}")
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINOP_SWAP:
        out.append(f"binop {type(node.op).__name__} -> {_BINOP_SWAP[type(node.op)].__name__}")
    elif isinstance(node, ast.AugAssign) and type(node.op) in _BINOP_SWAP:
        out.append(f"augassign {type(node.op).__name__} -> {_BINOP_SWAP[type(node.op)].__name__}")
    elif isinstance(node, ast.BoolOp):
        out.append("boolop and -> or" if isinstance(node.op, ast.And) else "boolop or -> and")
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not | ast.USub):
        out.append(f"drop unary {type(node.op).__name__}")
    elif isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool):
            out.append(f"{value} -> {not value}")
        elif isinstance(value, int | float) and not isinstance(parent, ast.UnaryOp):
            out.append(f"{value!r} -> {value + 1!r}")
        elif isinstance(value, str) and not isinstance(parent, ast.JoinedStr | ast.FormattedValue):
            out.append(f"string {value[:30]!r} -> 'XX..XX'")
            if value in _OPERATOR_STRINGS:
                out.append(f"operator {value!r} -> {_OPERATOR_STRINGS[value]!r}")
        elif isinstance(value, str) and isinstance(parent, ast.JoinedStr) and value:
            out.append(f"f-string text {value[:30]!r} -> 'XX..XX'")
    elif isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant):
        pass
    elif isinstance(node, ast.Return) and node.value is not None:
        if not (isinstance(node.value, ast.Constant) and node.value.value is None):
            out.append("return x -> return None")
    elif isinstance(node, ast.keyword) and node.arg is not None:
        if not (isinstance(node.value, ast.Constant) and node.value.value is None):
            out.append(f"keyword {node.arg}=... -> {node.arg}=None")
    elif isinstance(node, ast.Assign) and not (
        isinstance(node.value, ast.Constant) and node.value.value is None
    ):
        out.append("x = ... -> x = None")
    elif isinstance(node, ast.Break):
        out.append("break -> continue")
    elif isinstance(node, ast.Continue):
        out.append("continue -> break")
    return out


def _apply(node: ast.AST, change: str) -> ast.AST:
    """Mutate ``node`` in place (or return a replacement) according to ``change``."""
    if change.startswith("compare["):
        assert isinstance(node, ast.Compare)
        i = int(change[len("compare[") : change.index("]")])
        node.ops[i] = _COMPARE_SWAP[type(node.ops[i])]()
        return node
    if change.startswith("binop") or change.startswith("augassign"):
        assert isinstance(node, ast.BinOp | ast.AugAssign)
        node.op = _BINOP_SWAP[type(node.op)]()
        return node
    if change.startswith("boolop"):
        assert isinstance(node, ast.BoolOp)
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        return node
    if change.startswith("drop unary"):
        assert isinstance(node, ast.UnaryOp)
        return node.operand
    if isinstance(node, ast.Constant):
        if change.startswith("operator"):
            node.value = _OPERATOR_STRINGS[node.value]
        elif isinstance(node.value, bool):
            node.value = not node.value
        elif isinstance(node.value, int | float):
            node.value = node.value + 1
        else:
            node.value = f"XX{node.value}XX"
        return node
    if isinstance(node, ast.Return):
        node.value = ast.Constant(None)
        return node
    if isinstance(node, ast.keyword):
        node.value = ast.Constant(None)
        return node
    if isinstance(node, ast.Assign):
        node.value = ast.Constant(None)
        return node
    if isinstance(node, ast.Break):
        return ast.Continue()
    if isinstance(node, ast.Continue):
        return ast.Break()
    raise ValueError(change)


def _in_raise(node: ast.AST, parents: dict[int, ast.AST]) -> bool:
    up = parents.get(id(node))
    while up is not None:
        if isinstance(up, ast.Raise):
            return True
        up = parents.get(id(up))
    return False


def _message_only(node: ast.AST, parents: dict[int, ast.AST], change: str) -> bool:
    if change.startswith("f-string text"):
        return True
    return change.startswith("string") and _in_raise(node, parents)


def _built_text(node: ast.AST, parents: dict[int, ast.AST], change: str) -> bool:
    """An f-string's literal text outside a ``raise``: a message, or text that is the
    meaning itself (SQL built with f-strings); ``--fstrings`` scores these."""
    return change.startswith("f-string text") and not _in_raise(node, parents)


def _statement_line(node: ast.AST, parents: dict[int, ast.AST]) -> int:
    up: ast.AST | None = node
    while up is not None and not isinstance(up, ast.stmt):
        up = parents.get(id(up))
    return getattr(up, "lineno", getattr(node, "lineno", 0))


def mutants(path: str) -> list[Mutant]:
    source = (ROOT / path).read_text(encoding="utf-8")
    tree = ast.parse(source)
    lines = source.splitlines()
    skip = _skipped(tree, lines)
    parents = _parents(tree)
    found: list[Mutant] = []
    for index, node in enumerate(ast.walk(tree)):
        if id(node) in skip:
            continue
        for variant, change in enumerate(_variants(node, parents.get(id(node)))):
            line = getattr(node, "lineno", 0) or _statement_line(node, parents)
            found.append(
                Mutant(
                    id=f"{path}:{index}:{variant}",
                    path=path,
                    line=line,
                    statement_line=_statement_line(node, parents),
                    change=change,
                    message_only=_message_only(node, parents, change),
                    built_text=_built_text(node, parents, change),
                )
            )
    return found


def mutated_source(mutant: Mutant) -> str:
    tree = ast.parse((ROOT / mutant.path).read_text(encoding="utf-8"))
    _, index, variant = mutant.id.rsplit(":", 2)
    parents = _parents(tree)
    for i, node in enumerate(ast.walk(tree)):
        if i != int(index):
            continue
        change = _variants(node, parents.get(id(node)))[int(variant)]
        replacement = _apply(node, change)
        if replacement is not node:
            parent = parents[id(node)]
            for name, value in ast.iter_fields(parent):
                if value is node:
                    setattr(parent, name, replacement)
                elif isinstance(value, list):
                    setattr(parent, name, [replacement if v is node else v for v in value])
        return ast.unparse(ast.fix_missing_locations(tree))
    raise KeyError(mutant.id)


# ------------------------------------------------------------------------------ running


def _module_name(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".").removesuffix(".__init__")


class _MutantFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves the mutated source for one module; everything else imports as usual."""

    def __init__(self, name: str, filename: str, source: str) -> None:
        self.name, self.filename, self.source = name, filename, source

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> object:
        if fullname != self.name:
            return None
        return importlib.util.spec_from_file_location(fullname, self.filename, loader=self)

    def create_module(self, spec: object) -> None:
        return None

    def exec_module(self, module: object) -> None:
        code = compile(self.source, self.filename, "exec")
        exec(code, module.__dict__)


def _run_child(tests: list[str], mutant: Mutant | None, trace: set[str] | None, log: Path) -> int:
    """Fork; the child runs the tests (against ``mutant`` if given) and exits with pytest's code."""
    pid = os.fork()
    if pid:
        return pid
    try:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        sys.dont_write_bytecode = True
        if mutant is not None:
            filename = str(ROOT / mutant.path)
            sys.meta_path.insert(
                0, _MutantFinder(_module_name(mutant.path), filename, mutated_source(mutant))
            )
        if trace is not None:
            _start_line_trace(trace)
        import pytest

        code = int(pytest.main(["-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *tests]))
        if trace is not None:
            sys.settrace(None)
            Path(str(log) + ".lines").write_text(json.dumps(sorted(_LINES)), encoding="utf-8")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    except BaseException:  # pragma: no cover - the child must never return into the parent's loop
        import traceback

        traceback.print_exc()
        os._exit(99)


_LINES: set[str] = set()


def _start_line_trace(files: set[str]) -> None:
    import threading

    def local(frame: object, event: str, arg: object) -> object:
        if event == "line":
            _LINES.add(f"{frame.f_code.co_filename}:{frame.f_lineno}")  # type: ignore[attr-defined]
        return local

    def tracer(frame: object, event: str, arg: object) -> object:
        if frame.f_code.co_filename in files:  # type: ignore[attr-defined]
            _LINES.add(f"{frame.f_code.co_filename}:{frame.f_code.co_firstlineno}")  # type: ignore[attr-defined]
            return local
        return None

    sys.settrace(tracer)
    threading.settrace(tracer)


def _wait(pid: int, limit: float) -> tuple[int | None, float]:
    """Exit code of child ``pid`` (None on timeout, after killing it) and the seconds it took."""
    start = time.monotonic()
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), time.monotonic() - start
        if time.monotonic() - start > limit:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None, time.monotonic() - start
        time.sleep(0.05)


def run(
    modules: list[str],
    tests: list[str],
    sample: int | None,
    seed: int,
    messages: bool,
    previous: dict[str, object] | None,
    work: Path,
    lines: range | None = None,
    out: Path | None = None,
    skip_clean: float | None = None,
    fstrings: bool = False,
) -> dict[str, object]:
    for name in _PRELOAD:
        with contextlib.suppress(ImportError):
            __import__(name)
    work.mkdir(parents=True, exist_ok=True)
    files = {str(ROOT / m) for m in modules}
    if skip_clean is None:
        print(f"clean run of {' '.join(tests)} ...", flush=True)
        pid = _run_child(tests, None, files, work / "clean.log")
        code, clean_seconds = _wait(pid, 3600)
        if code != 0:
            raise SystemExit(f"the tests fail without any mutant (exit {code}); see {work / 'clean.log'}")
        executed = set(json.loads(Path(str(work / "clean.log") + ".lines").read_text(encoding="utf-8")))
        limit = max(20.0, 3 * clean_seconds)
    else:  # --limit: no clean run, so no coverage either: every mutant is run
        executed = {f"{ROOT / m}:{line}" for m in modules for line in range(1, 100_000)}
        clean_seconds, limit = 0.0, skip_clean
    print(f"clean run: {clean_seconds:.1f}s; time limit per mutant {limit:.0f}s", flush=True)
    report: dict[str, object] = {
        "commit": _commit(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "tests": tests,
        "seed": seed,
        "sample": sample,
        "fstrings_scored": fstrings,
        "modules": {},
    }
    for module in modules:
        everything = mutants(module)
        set_aside = [
            m for m in everything if m.message_only and not messages and not (fstrings and m.built_text)
        ]
        pool = [m for m in everything if m not in set_aside and (lines is None or m.line in lines)]
        before = (previous or {}).get("modules", {}).get(module)
        if before is not None:  # --rerun: the survivors again; the mutants killed then stay killed
            wanted = {s["id"] for s in before["survivors"]}
            pool = [m for m in pool if m.id in wanted]
        elif sample is not None and sample < len(pool):
            pool = sorted(random.Random(f"{seed}:{module}").sample(pool, sample), key=lambda m: m.line)
        outcomes: list[Outcome] = []
        for n, mutant in enumerate(pool, 1):
            # a multi-line statement may only report its later lines: either counts
            here = {f"{ROOT / module}:{mutant.statement_line}", f"{ROOT / module}:{mutant.line}"}
            if not here & executed:
                outcomes.append(Outcome(mutant, "not covered", 0.0))
            else:
                pid = _run_child(tests, mutant, None, work / "mutant.log")
                code, seconds = _wait(pid, limit)
                status = "timeout" if code is None else ("survived" if code == 0 else "killed")
                if code in (2, 3, 4, 99):  # interrupted, internal or usage error, import failure
                    status = "killed"  # the mutant broke loading: any test run notices
                outcomes.append(Outcome(mutant, status, seconds))
            last = outcomes[-1]
            print(
                f"[{module} {n}/{len(pool)}] {last.status:11} line {mutant.line}: {mutant.change}",
                flush=True,
            )
            report["modules"][module] = _entry(everything, set_aside, outcomes, before)  # type: ignore[index]
            if out is not None:  # after each mutant: a long run can be stopped and still read
                out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        entry = report["modules"][module]  # type: ignore[index]
        print(f"== {module}: {entry['killed']}/{entry['run']} killed = {entry['score']}%", flush=True)
    return report


def _entry(
    everything: list[Mutant], set_aside: list[Mutant], outcomes: list[Outcome], before: dict | None
) -> dict[str, object]:
    killed = sum(o.status in ("killed", "timeout") for o in outcomes)
    scored = len(outcomes)
    if before is not None:  # a rerun of the survivors: the others were killed then
        killed += before["killed"]
        scored += before["run"] - len(before["survivors"])
    return {
        "mutants": len(everything),
        "message_only_set_aside": len(set_aside),
        "run": scored,
        "killed": killed,
        "not_covered": sum(o.status == "not covered" for o in outcomes),
        "score": round(100 * killed / scored, 1) if scored else None,
        "survivors": [
            {**asdict(o.mutant), "status": o.status, "source": _line(o.mutant)}
            for o in outcomes
            if o.status in ("survived", "not covered")
        ],
    }


def _line(mutant: Mutant) -> str:
    return (ROOT / mutant.path).read_text(encoding="utf-8").splitlines()[mutant.line - 1].strip()


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
        return out.stdout.strip()
    except OSError:
        return "?"


def _iter_show(ids: list[str]) -> Iterator[str]:
    import difflib

    for mid in ids:
        path = mid.rsplit(":", 2)[0]
        mutant = next(m for m in mutants(path) if m.id == mid)
        before = ast.unparse(ast.parse((ROOT / path).read_text(encoding="utf-8"))).splitlines()
        after = mutated_source(mutant).splitlines()
        yield from difflib.unified_diff(before, after, f"{path} (unparsed)", f"{mid}", n=1, lineterm="")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("profile", nargs="?", choices=sorted(PROFILES))
    parser.add_argument("--module", action="append", default=[], help="a module path (repeatable)")
    parser.add_argument("--tests", nargs="+", help="test paths (default: the profile's)")
    parser.add_argument("--sample", type=int, help="run a random sample of this many per module")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--lines", help="only mutants on these lines of each module, e.g. 470-500")
    parser.add_argument("--limit", type=float, help="seconds per mutant; skips the clean (traced) run")
    parser.add_argument("--messages", action="store_true", help="run message-only mutants too")
    parser.add_argument(
        "--fstrings",
        action="store_true",
        help="score f-string text outside raise statements (SQL built with f-strings)",
    )
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument("--show", nargs="+", metavar="ID", help="print the diff of these mutants")
    parser.add_argument("--rerun", type=Path, help="run only the survivors of this report")
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    parser.add_argument("--work", type=Path, default=Path("/tmp") / f"screener-mutation-{os.getpid()}")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    if args.show:
        for line in _iter_show(args.show):
            print(line)
        return 0
    modules, tests = list(args.module), list(args.tests or [])
    if args.profile:
        modules = modules or PROFILES[args.profile][0]
        tests = tests or PROFILES[args.profile][1]
    if not modules or not tests:
        parser.error("give a profile, or --module and --tests")
    tests = [t for t in tests if t.startswith("-") or (ROOT / t.split("::")[0]).exists()]
    if args.list:
        for module in modules:
            for m in mutants(module):
                flag = " (message only)" if m.message_only else ""
                flag = " (f-string text: scored with --fstrings)" if m.built_text else flag
                print(f"{m.id}  line {m.line}: {m.change}{flag}")
        return 0
    previous = json.loads(args.rerun.read_text(encoding="utf-8")) if args.rerun else None
    if previous is not None:
        modules = [m for m in modules if m in previous["modules"]] or list(previous["modules"])
    lines = None
    if args.lines:
        first, _, last = args.lines.partition("-")
        lines = range(int(first), int(last or first) + 1)
    report = run(
        modules,
        tests,
        args.sample,
        args.seed,
        args.messages,
        previous,
        args.work,
        lines,
        args.out,
        args.limit,
        args.fstrings,
    )
    text = json.dumps(report, indent=1)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    for module, entry in report["modules"].items():  # type: ignore[union-attr]
        print(f"{module}: {entry['score']}% of {entry['run']} ({entry['message_only_set_aside']} set aside)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
