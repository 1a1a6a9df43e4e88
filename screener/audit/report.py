"""A rule set as a document a clinician or an auditor can read (Markdown or HTML).

For every criterion: id, type, title, protocol section and quote, the reading
the rule file takes, its logic in plain words, the derived values it relies on
(clinical function, citation, reading), and a traceability matrix of the fixture
cases (``<rules dir>/tests/*.yaml``) that state an expected outcome for it.
The HTML is one self-contained file (inline CSS, no scripts), every text escaped.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import yaml

from screener.audit.words import node_lines, node_words
from screener.clinical import FUNCTIONS
from screener.explain.words import outcome_word
from screener.model.rules import Criterion, FactTest, FieldTest, RuleSet, walk
from screener.yamlio import load_file, yaml_error_message


@dataclass(frozen=True)
class DerivedUse:
    name: str
    label: str
    function: str
    citation: str
    description: str
    unit: str | None
    inputs: tuple[tuple[str, str], ...]
    reading: str | None


@dataclass(frozen=True)
class FactRef:
    name: str
    label: str
    unit: str | None
    max_age_days: int | None
    person_only: bool

    def describe(self) -> str:
        parts = [self.label]
        if self.unit:
            parts.append(f"in {self.unit}")
        if self.max_age_days is not None:
            parts.append(f"at most {self.max_age_days} days old")
        if self.person_only:
            parts.append("recorded by a person only")
        return ", ".join(parts)


@dataclass(frozen=True)
class CaseRef:
    file: str
    line: int | None
    note: str
    as_of: str
    outcome: str


@dataclass(frozen=True)
class CriterionReport:
    id: str
    type: str
    title: str
    section: str
    quote: str
    reading: str
    person_only: bool
    logic: str
    logic_lines: tuple[str, ...]
    facts: tuple[FactRef, ...]
    derived: tuple[DerivedUse, ...]
    cases: tuple[CaseRef, ...]


@dataclass(frozen=True)
class RuleReport:
    title: str
    ruleset_id: str
    trial: str
    version: str
    sha256: str
    file: str
    protocol_source: str
    criteria: tuple[CriterionReport, ...]
    case_files: tuple[str, ...]
    case_problems: tuple[str, ...]


# --------------------------------------------------------------------------- building


def derived_used(rs: RuleSet, c: Criterion) -> list[str]:
    """Derived values a criterion relies on, directly or through other derived values, in file order."""
    names = {d.name for d in rs.derived}
    wanted: set[str] = set()
    for node in walk(c.test):
        if isinstance(node, FactTest) and node.fact in names:
            wanted.add(node.fact)
        elif isinstance(node, FieldTest) and node.field in names:
            wanted.add(node.field)
    by_name = {d.name: d for d in rs.derived}
    todo = list(wanted)
    while todo:
        d = by_name[todo.pop()]
        for source in d.fact_inputs():
            if source in names and source not in wanted:
                wanted.add(source)
                todo.append(source)
    return [d.name for d in rs.derived if d.name in wanted]


def facts_used(rs: RuleSet, c: Criterion) -> list[str]:
    """Base facts a criterion reads, directly or through derived values, in declaration order."""
    wanted = {n.fact for n in walk(c.test) if isinstance(n, FactTest)}
    by_name = {d.name: d for d in rs.derived}
    for name in derived_used(rs, c):
        wanted.update(by_name[name].fact_inputs())
    return [name for name in rs.facts if name in wanted]


def _derived_use(rs: RuleSet, name: str) -> DerivedUse:
    d = next(d for d in rs.derived if d.name == name)
    fn = FUNCTIONS.get(d.function)
    return DerivedUse(
        name=d.name,
        label=d.label,
        function=d.function,
        citation=fn.citation if fn else "(unknown function)",
        description=fn.description if fn else "",
        unit=d.unit or (fn.unit if fn else None),
        inputs=tuple((i.param, i.ref) for i in d.inputs),
        reading=d.reading,
    )


def read_cases(rules_dir: Path) -> tuple[dict[str, list[CaseRef]], list[str], list[str]]:
    """Expected outcomes per criterion from ``rules_dir/tests/*.yaml``.

    Returns (criterion id -> cases, case files read, problems). A file that
    cannot be read is reported as a problem and the others are still read.
    """
    by_criterion: dict[str, list[CaseRef]] = {}
    files: list[str] = []
    problems: list[str] = []
    folder = rules_dir / "tests"
    if not folder.is_dir():
        return by_criterion, files, problems
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        try:
            data, lines = load_file(path)
        except yaml.YAMLError as error:
            problems.append(f"{path}: {yaml_error_message(error)}")
            continue
        except (OSError, UnicodeDecodeError) as error:
            problems.append(f"{path}: cannot read: {error}")
            continue
        files.append(str(path))
        cases = data.get("cases") if isinstance(data, dict) else None
        if not isinstance(cases, list):
            problems.append(f"{path}:{lines.line(()) or 1}: cases: expected a list of cases")
            continue
        for i, case in enumerate(cases):
            where = f"{path}:{lines.line(('cases', i)) or '?'}"
            if not isinstance(case, dict):
                problems.append(f"{where}: cases[{i}]: expected a mapping")
                continue
            want = case.get("want")
            criteria = want.get("criteria") if isinstance(want, dict) else None
            if criteria is None:
                continue
            if not isinstance(criteria, dict):
                problems.append(f"{where}: cases[{i}].want.criteria: expected id: outcome pairs")
                continue
            for cid, outcome in criteria.items():
                by_criterion.setdefault(str(cid), []).append(
                    CaseRef(
                        file=str(path),
                        line=lines.line(("cases", i, "want", "criteria", cid)),
                        note=str(case.get("note", f"case {i + 1}")),
                        as_of=str(case.get("as_of", "")),
                        outcome=str(outcome),
                    )
                )
    return by_criterion, files, problems


def build_report(rs: RuleSet, cases_dir: Path | None = None) -> RuleReport:
    """Everything the report shows; ``cases_dir`` defaults to the rule file's folder."""
    folder = cases_dir if cases_dir is not None else Path(rs.file).parent
    cases, files, problems = read_cases(folder)
    criteria = []
    for c in rs.criteria:
        criteria.append(
            CriterionReport(
                id=c.id,
                type=c.type,
                title=c.title,
                section=c.section,
                quote=c.quote.strip(),
                reading=c.reading.strip(),
                person_only=c.person_only,
                logic=node_words(c.test),
                logic_lines=tuple(node_lines(c.test)),
                facts=tuple(
                    FactRef(f.name, f.label, f.unit, f.max_age_days, f.person_only)
                    for f in (rs.facts[n] for n in facts_used(rs, c))
                ),
                derived=tuple(_derived_use(rs, n) for n in derived_used(rs, c)),
                cases=tuple(cases.get(c.id, ())),
            )
        )
    known = {c.id for c in rs.criteria}
    for cid in sorted(set(cases) - known):
        for ref in cases[cid]:
            problems.append(f"{ref.file}:{ref.line or '?'}: case '{ref.note}' names unknown criterion {cid}")
    return RuleReport(
        title=rs.title,
        ruleset_id=rs.id,
        trial=rs.trial,
        version=rs.version,
        sha256=rs.sha256,
        file=rs.file,
        protocol_source=rs.protocol_source,
        criteria=tuple(criteria),
        case_files=tuple(files),
        case_problems=tuple(problems),
    )


# --------------------------------------------------------------------------- Markdown


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell or line."""
    return " ".join(text.split()).replace("|", "\\|")


def render_markdown(report: RuleReport) -> str:
    r = report
    out = [
        f"# {_md(r.title)}",
        "",
        f"- Rule set: `{r.ruleset_id}` version {_md(r.version)} (trial {_md(r.trial)})",
        f"- File: `{r.file}`",
        f"- sha256: `{r.sha256}`",
        f"- Protocol: {_md(r.protocol_source)}",
        f"- Fixture case files: {len(r.case_files)}",
        "",
        "## Summary",
        "",
        "| id | type | title | cases |",
        "|---|---|---|---|",
    ]
    for c in r.criteria:
        out.append(f"| {c.id} | {c.type} | {_md(c.title)} | {len(c.cases) or 'none'} |")
    for c in r.criteria:
        out += ["", f"## {c.id} ({c.type}): {_md(c.title)}", ""]
        if c.person_only:
            out += ["Only a person can confirm this criterion.", ""]
        out += [f"**Protocol** ({_md(c.section)}):", "", f"> {_md(c.quote)}", ""]
        out += [f"**Reading:** {_md(c.reading)}", "", "**Logic:**", "", "```text", *c.logic_lines, "```"]
        if c.facts:
            out += ["", "**Facts read:**", ""]
            out += [f"- `{f.name}`: {_md(f.describe())}" for f in c.facts]
        if c.derived:
            out += ["", "**Derived values:**", ""]
            for d in c.derived:
                inputs = ", ".join(f"{p} = {ref}" for p, ref in d.inputs)
                unit = f" [{d.unit}]" if d.unit else ""
                out.append(f"- `{d.name}`{unit}: {_md(d.label)}; function `{d.function}`({_md(inputs)})")
                out.append(f"  - citation: {_md(d.citation)}")
                if d.reading:
                    out.append(f"  - reading: {_md(d.reading)}")
        out += ["", "**Fixture cases:**", ""]
        if c.cases:
            out += ["| case | screening date | expected | where |", "|---|---|---|---|"]
            for case in c.cases:
                where = f"{case.file}:{case.line}" if case.line else case.file
                expected = outcome_word(c.type, case.outcome)
                out.append(f"| {_md(case.note)} | {case.as_of} | {expected} | `{where}` |")
        else:
            out.append("No fixture case exercises this criterion.")
    if r.case_problems:
        out += ["", "## Problems reading fixture cases", ""]
        out += [f"- {_md(p)}" for p in r.case_problems]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:60rem;margin:2rem auto;
padding:0 1rem;color:#1a1a1a;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.2rem;border-top:1px solid #ccc;padding-top:1rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #bbb;padding:.25rem .5rem;
text-align:left;vertical-align:top}th{background:#f0f0f0}
blockquote{margin:.5rem 0;padding:.25rem 1rem;border-left:4px solid #88a;background:#f6f6fb}
pre{background:#f4f4f4;padding:.5rem;overflow-x:auto}code{font-size:.9em}
.tag{display:inline-block;font-size:.8em;padding:0 .4em;border-radius:3px;background:#eee}
.inclusion{background:#dfe}.exclusion{background:#fde}.none{color:#a00}
.pass{color:#060}.fail{color:#a00}.unknown{color:#850}
"""


def _h(text: object) -> str:
    return html.escape(str(text), quote=True)


def render_html(report: RuleReport) -> str:
    r = report
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_h(r.ruleset_id)} {_h(r.version)}: eligibility rules</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{_h(r.title)}</h1>",
        "<table>",
        f"<tr><th>Rule set</th><td><code>{_h(r.ruleset_id)}</code> version {_h(r.version)}</td></tr>",
        f"<tr><th>Trial</th><td>{_h(r.trial)}</td></tr>",
        f"<tr><th>File</th><td><code>{_h(r.file)}</code></td></tr>",
        f"<tr><th>sha256</th><td><code>{_h(r.sha256)}</code></td></tr>",
        f"<tr><th>Protocol</th><td>{_h(r.protocol_source)}</td></tr>",
        f"<tr><th>Fixture case files</th><td>{len(r.case_files)}</td></tr>",
        "</table>",
        "<h2>Summary</h2>",
        "<table><tr><th>id</th><th>type</th><th>title</th><th>cases</th></tr>",
    ]
    for c in r.criteria:
        count = str(len(c.cases)) if c.cases else '<span class="none">none</span>'
        out.append(
            f'<tr><td><a href="#{_h(c.id)}">{_h(c.id)}</a></td><td>{_h(c.type)}</td>'
            f"<td>{_h(c.title)}</td><td>{count}</td></tr>"
        )
    out.append("</table>")
    for c in r.criteria:
        out.append(
            f'<section id="{_h(c.id)}"><h2>{_h(c.id)} <span class="tag {_h(c.type)}">{_h(c.type)}</span> '
            f"{_h(c.title)}</h2>"
        )
        if c.person_only:
            out.append("<p><em>Only a person can confirm this criterion.</em></p>")
        out.append(f"<p><strong>Protocol</strong> ({_h(c.section)}):</p>")
        out.append(f"<blockquote>{_h(c.quote)}</blockquote>")
        out.append(f"<p><strong>Reading:</strong> {_h(c.reading)}</p>")
        out.append(f"<p><strong>Logic:</strong></p><pre>{_h(chr(10).join(c.logic_lines))}</pre>")
        if c.facts:
            out.append("<p><strong>Facts read:</strong></p><ul>")
            out += [f"<li><code>{_h(f.name)}</code>: {_h(f.describe())}</li>" for f in c.facts]
            out.append("</ul>")
        if c.derived:
            out.append("<p><strong>Derived values:</strong></p><ul>")
            for d in c.derived:
                inputs = ", ".join(f"{p} = {ref}" for p, ref in d.inputs)
                unit = f" [{_h(d.unit)}]" if d.unit else ""
                item = (
                    f"<li><code>{_h(d.name)}</code>{unit}: {_h(d.label)}; function "
                    f"<code>{_h(d.function)}</code>({_h(inputs)})<br>citation: {_h(d.citation)}"
                )
                if d.reading:
                    item += f"<br>reading: {_h(d.reading)}"
                out.append(item + "</li>")
            out.append("</ul>")
        out.append("<p><strong>Fixture cases:</strong></p>")
        if c.cases:
            out.append("<table><tr><th>case</th><th>screening date</th><th>expected</th><th>where</th></tr>")
            for case in c.cases:
                where = f"{case.file}:{case.line}" if case.line else case.file
                out.append(
                    f"<tr><td>{_h(case.note)}</td><td>{_h(case.as_of)}</td>"
                    f'<td class="{_h(case.outcome)}">{_h(outcome_word(c.type, case.outcome))}</td>'
                    f"<td><code>{_h(where)}</code></td></tr>"
                )
            out.append("</table>")
        else:
            out.append('<p class="none">No fixture case exercises this criterion.</p>')
        out.append("</section>")
    if r.case_problems:
        out.append("<h2>Problems reading fixture cases</h2><ul>")
        out += [f"<li>{_h(p)}</li>" for p in r.case_problems]
        out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def render(report: RuleReport, fmt: str) -> str:
    if fmt == "html":
        return render_html(report)
    if fmt == "md":
        return render_markdown(report)
    raise ValueError(f"unknown report format {fmt!r}")
