"""Attrition funnel of a batch: how many patients each criterion removes.

Counts come only from the rows the runner writes (failing and unknown criterion
ids per patient), so the summary never judges eligibility itself. Two views:

* independent: for each criterion on its own, how many patients fail it, how
  many are unknown, how many pass;
* sequential: criteria taken in rule-file order; after each one, how many
  patients have failed none so far ("remaining"), and how many have passed
  every one so far ("clear"). ``failed here`` counts the patients this
  criterion is the first to fail; ``unknown here`` those still remaining whose
  outcome on it is unknown.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Funnel:
    criteria: tuple[str, ...]
    titles: tuple[str, ...] = ()
    screened: int = 0
    fail: list[int] = field(default_factory=list)
    unknown: list[int] = field(default_factory=list)
    first_fail: list[int] = field(default_factory=list)  # criterion is the first failing one
    unknown_remaining: list[int] = field(default_factory=list)  # unknown, nothing failed before
    first_open: list[int] = field(default_factory=list)  # first criterion that is not a pass
    # screened, but decided before the criteria (ineligible whatever they say: a patient who died
    # on or before the screening date); not counted in the criteria's columns
    decided: int = 0

    def __post_init__(self) -> None:
        n = len(self.criteria)
        for name in ("fail", "unknown", "first_fail", "unknown_remaining", "first_open"):
            if not getattr(self, name):
                setattr(self, name, [0] * n)
        if not self.titles:
            self.titles = ("",) * n
        self._pos = {c: i for i, c in enumerate(self.criteria)}

    def add(self, failing: Iterable[str], unknown: Iterable[str], decided: bool = False) -> None:
        """Count one screened patient from its failing and unknown criterion ids; ``decided``:
        the decision did not come from the criteria (the row's ``decision_reason``)."""
        if decided:
            self.screened += 1
            self.decided += 1
            return
        failed = sorted(self._pos[c] for c in failing)
        unknowns = sorted(self._pos[c] for c in unknown)
        self.screened += 1
        for i in failed:
            self.fail[i] += 1
        for i in unknowns:
            self.unknown[i] += 1
        cut = failed[0] if failed else len(self.criteria)
        if failed:
            self.first_fail[cut] += 1
        for i in unknowns:
            if i < cut:
                self.unknown_remaining[i] += 1
        opened = min([*failed[:1], *unknowns[:1]], default=None)
        if opened is not None:
            self.first_open[opened] += 1

    def add_row(self, row: dict[str, Any]) -> None:
        """Count one batch row (its ``failing``, ``unknown`` and ``decision_reason``)."""
        self.add(row["failing"], (u["id"] for u in row["unknown"]), decided=bool(row["decision_reason"]))

    def add_codes(self, codes: Any) -> None:
        """Count many patients at once from a (patients x criteria) array of outcome codes
        (0 pass, 1 fail, 2 unknown, criteria in :attr:`criteria` order): the same counts as
        :meth:`add` for each row, without a Python step per patient."""
        import numpy as np

        m = np.asarray(codes)
        n, k = m.shape
        if k != len(self.criteria):
            raise ValueError(f"{k} columns of codes for {len(self.criteria)} criteria")
        failed, unknown = m == 1, m == 2
        any_fail = failed.any(axis=1)
        cut = np.where(any_fail, failed.argmax(axis=1), k)
        opened = m != 0
        first_open = opened.argmax(axis=1)[opened.any(axis=1)]
        before_cut = np.arange(k)[None, :] < cut[:, None]
        self.screened += n
        for name, counts in (
            ("fail", failed.sum(axis=0)),
            ("unknown", unknown.sum(axis=0)),
            ("first_fail", np.bincount(cut[any_fail], minlength=k)),
            ("unknown_remaining", (unknown & before_cut).sum(axis=0)),
            ("first_open", np.bincount(first_open, minlength=k)),
        ):
            setattr(self, name, [a + int(b) for a, b in zip(getattr(self, name), counts, strict=True)])

    # ------------------------------------------------------------------ views

    def rows(self) -> list[dict[str, Any]]:
        out = []
        remaining = clear = self.screened - self.decided
        for i, cid in enumerate(self.criteria):
            remaining -= self.first_fail[i]
            clear -= self.first_open[i]
            out.append(
                {
                    "id": cid,
                    "title": self.titles[i],
                    "fail": self.fail[i],
                    "unknown": self.unknown[i],
                    "pass": self.screened - self.decided - self.fail[i] - self.unknown[i],
                    "failed_here": self.first_fail[i],
                    "unknown_here": self.unknown_remaining[i],
                    "remaining": remaining,
                    "clear": clear,
                }
            )
        return out

    def to_state(self) -> dict[str, Any]:
        return {
            "criteria": list(self.criteria),
            "screened": self.screened,
            "fail": self.fail,
            "unknown": self.unknown,
            "first_fail": self.first_fail,
            "unknown_remaining": self.unknown_remaining,
            "first_open": self.first_open,
            "decided": self.decided,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], titles: Sequence[str] = ()) -> Funnel:
        return cls(
            criteria=tuple(state["criteria"]),
            titles=tuple(titles),
            screened=state["screened"],
            fail=list(state["fail"]),
            unknown=list(state["unknown"]),
            first_fail=list(state["first_fail"]),
            unknown_remaining=list(state["unknown_remaining"]),
            first_open=list(state["first_open"]),
            decided=int(state.get("decided", 0)),
        )


@dataclass
class TrialFunnels:
    """A portfolio's funnels, one per trial in portfolio order, checkpointed as one state (as a
    single-trial run checkpoints its :class:`Funnel`), so a portfolio batch can be resumed."""

    by_trial: dict[str, Funnel]

    @property
    def titles(self) -> dict[str, tuple[str, ...]]:
        return {t: f.titles for t, f in self.by_trial.items()}

    def to_state(self) -> dict[str, Any]:
        return {"trials": {t: f.to_state() for t, f in self.by_trial.items()}}

    @classmethod
    def from_state(cls, state: dict[str, Any], titles: dict[str, tuple[str, ...]]) -> TrialFunnels:
        return cls({t: Funnel.from_state(s, titles.get(t, ())) for t, s in state["trials"].items()})


HEADERS = ("criterion", "fail", "unknown", "pass", "failed here", "unknown here", "remaining", "clear")


@dataclass(frozen=True)
class RunInfo:
    """What a batch did, for the summary's reader: date, rule set, inputs, command."""

    as_of: str
    ruleset_id: str
    ruleset_version: str
    ruleset_sha256: str
    inputs: tuple[str, ...]
    command: str
    errors: int = 0  # records that could not be screened
    skipped: tuple[str, ...] = ()  # files of input directories that no reader reads


def decision_totals(funnel: Funnel) -> dict[str, int]:
    """Patients per decision, from the funnel's counts (the runner's rows decide, not this):
    ineligible fail a criterion; eligible have no criterion that is not a pass."""
    ineligible = sum(funnel.first_fail) + funnel.decided
    eligible = funnel.screened - funnel.decided - sum(funnel.first_open)
    return {
        "eligible": eligible,
        "incomplete": funnel.screened - eligible - ineligible,
        "ineligible": ineligible,
    }


def totals_line(funnel: Funnel, errors: int = 0) -> str:
    """``23 patients screened: 5 eligible, 10 incomplete, 8 ineligible; 1 error``"""
    t = decision_totals(funnel)
    text = (
        f"{funnel.screened} patients screened: {t['eligible']} eligible, "
        f"{t['incomplete']} incomplete, {t['ineligible']} ineligible"
    )
    if funnel.decided:
        text += f" ({funnel.decided} decided before the criteria: see decision_reason)"
    return text + f"; {errors} record{'s' if errors != 1 else ''} could not be screened (errors)"


def info_lines(info: RunInfo) -> list[str]:
    lines = [
        f"screening date {info.as_of}; rule set {info.ruleset_id} v{info.ruleset_version} "
        f"(sha256 {info.ruleset_sha256})",
        f"inputs: {', '.join(info.inputs)}",
        f"command: {info.command}",
    ]
    if info.skipped:
        shown = ", ".join(info.skipped[:10]) + (
            f" and {len(info.skipped) - 10} more" if len(info.skipped) > 10 else ""
        )
        lines.append(f"skipped {len(info.skipped)} file(s) no reader reads: {shown}")
    return lines


def render_table(funnel: Funnel, info: RunInfo | None = None) -> str:
    """Plain-text table: totals, what was run, independent counts, then the sequential funnel."""
    lines = [totals_line(funnel, info.errors if info is not None else 0)]
    if info is not None:
        lines.extend(info_lines(info))
    cells = [
        [
            r["id"],
            str(r["fail"]),
            str(r["unknown"]),
            str(r["pass"]),
            str(r["failed_here"]),
            str(r["unknown_here"]),
            str(r["remaining"]),
            str(r["clear"]),
        ]
        for r in funnel.rows()
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(HEADERS)] if cells else []
    lines.append(
        "  ".join(
            h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(HEADERS, widths, strict=True))
        )
    )
    for c in cells:
        lines.append(
            "  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(c, widths, strict=True)))
        )
    return "\n".join(lines) + "\n"


_BAR = 420
_ROW = 22
_LEFT = 70


def render_svg(funnel: Funnel) -> str:
    """Horizontal bars per criterion, in rule order: remaining after the criterion (green),
    failed here (red), unknown among the remaining (amber); hand-written SVG."""
    rows = funnel.rows()
    total = max(funnel.screened, 1)
    height = 40 + _ROW * len(rows) + 30
    width = _LEFT + _BAR + 260
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f"<title>Attrition funnel, {funnel.screened} patients</title>",
        f'<text x="4" y="16" font-weight="bold">Attrition funnel: {funnel.screened} patients screened</text>',
    ]
    y = 30
    for r in rows:
        known = r["remaining"] - r["unknown_here"]
        parts = (
            (known, "#4c9a2a", "remaining, nothing unknown here"),
            (r["unknown_here"], "#e0a526", "unknown here"),
            (r["failed_here"], "#c0392b", "failed here"),
        )
        x = float(_LEFT)
        label = html.escape(f"{r['id']} {r['title']}".strip())
        out.append(f'<g><title>{label}</title><text x="4" y="{y + 14}">{html.escape(r["id"])}</text>')
        for count, colour, what in parts:
            w = _BAR * count / total
            if w > 0:
                out.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{_ROW - 4}" fill="{colour}">'
                    f"<title>{what}: {count}</title></rect>"
                )
            x += w
        out.append(
            f'<text x="{_LEFT + _BAR + 8}" y="{y + 14}">remaining {r["remaining"]}, '
            f"failed {r['failed_here']}, unknown {r['unknown_here']}</text></g>"
        )
        y += _ROW
    legend = (
        ("#4c9a2a", "remaining, nothing unknown here"),
        ("#e0a526", "unknown"),
        ("#c0392b", "failed here"),
    )
    x = 4
    for colour, text in legend:
        out.append(f'<rect x="{x}" y="{y + 6}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{x + 16}" y="{y + 16}">{text}</text>')
        x += 32 + 7 * len(text)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _info_html(funnel: Funnel, info: RunInfo | None) -> str:
    totals = decision_totals(funnel)
    cells = "".join(
        f'<tr><th>{name}</th><td class="total" data-decision="{name}">{count}</td></tr>'
        for name, count in (*totals.items(), ("errors", info.errors if info is not None else 0))
    )
    out = f'<table class="totals"><tbody>{cells}</tbody></table>\n'
    if info is not None:
        out += (
            "<dl>"
            f"<dt>screening date</dt><dd>{html.escape(info.as_of)}</dd>"
            f"<dt>rule set</dt><dd>{html.escape(info.ruleset_id)} v{html.escape(info.ruleset_version)} "
            f"(sha256 <code>{html.escape(info.ruleset_sha256)}</code>)</dd>"
            f"<dt>inputs</dt><dd>{'<br>'.join(html.escape(i) for i in info.inputs)}</dd>"
            f"<dt>command</dt><dd><code>{html.escape(info.command)}</code></dd>"
        )
        if info.skipped:
            out += f"<dt>skipped files</dt><dd>{'<br>'.join(html.escape(f) for f in info.skipped)}</dd>"
        out += "</dl>\n"
    return out


def render_html(funnel: Funnel, info: RunInfo | None = None) -> str:
    rows = funnel.rows()
    # Outcomes said for eligibility, as in the screen text and the TUI (issue 14, point 4).
    words = {"fail": "fail (not met / excluded)", "pass": "pass (met / not excluded)"}
    head = "".join(f"<th>{html.escape(words.get(h, h))}</th>" for h in ("criterion", "title", *HEADERS[1:]))
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(r[k]))}</td>"
            for k in (
                "id",
                "title",
                "fail",
                "unknown",
                "pass",
                "failed_here",
                "unknown_here",
                "remaining",
                "clear",
            )
        )
        + "</tr>"
        for r in rows
    )
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Attrition funnel</title>"
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
        "td:nth-child(-n+2){text-align:left}</style></head><body>\n"
        f"<h1>Attrition funnel</h1>\n{_info_html(funnel, info)}"
        f"<p>{funnel.screened} patients screened"
        + (
            f", of whom {funnel.decided} were decided before the criteria (ineligible whatever the "
            "criteria say, e.g. died before the screening date; see each row's decision_reason) and "
            "are left out of the columns below"
            if funnel.decided
            else ""
        )
        + ". Independent counts "
        "(fail, unknown, pass) take each criterion alone; the sequential columns take criteria in "
        "rule order: <em>failed here</em> counts patients this criterion is the first to fail, "
        "<em>unknown here</em> those not failed so far whose outcome is unknown, <em>remaining</em> "
        "those that have failed none so far, <em>clear</em> those that have passed every one so far.</p>\n"
        f"{render_svg(funnel)}<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>\n"
        "</body></html>\n"
    )
