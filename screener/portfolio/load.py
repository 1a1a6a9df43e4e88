"""A portfolio: every rule set in a folder (``DIR/*/rules.yaml``), loaded once.

A rule set that cannot be used (malformed, another schema version, a criterion id used
twice, an id that is not its folder's name, a trial id another rule set already has) is
kept as a :class:`BrokenRuleSet` naming its file: the other trials are still screened and
the broken one is reported with them, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from screener.errors import InputError, Location, RuleSpecError
from screener.model.rules import RuleSet, find_rule_file, load_ruleset


@dataclass(frozen=True)
class BrokenRuleSet:
    """A rule set of the folder that was not screened, and why (``file:line: field: message``)."""

    folder: str  # the rule set's folder name, e.g. "nct03917797"
    file: str
    error: str


@dataclass(frozen=True)
class Portfolio:
    """The usable rule sets of a folder, in folder-name order, and the broken ones."""

    folder: str
    rulesets: tuple[RuleSet, ...]
    broken: tuple[BrokenRuleSet, ...] = ()

    @property
    def trials(self) -> tuple[str, ...]:
        return tuple(r.trial for r in self.rulesets)


def is_portfolio(path: str | Path) -> bool:
    """A folder without its own rules.yaml: a folder of rule sets (``--rules rules/``)."""
    p = Path(path)
    return p.is_dir() and not (p / "rules.yaml").exists()


def rule_set_folders(path: str | Path) -> list[Path]:
    """Every ``*/rules.yaml`` directly under ``path``, in name order; a located error if none."""
    root = Path(path)
    if not root.is_dir():
        raise RuleSpecError("no such folder of rule sets", Location(str(root)))
    folders = sorted(p.parent for p in root.glob("*/rules.yaml"))
    if not folders:
        raise RuleSpecError(
            "no rule set in this folder (expected one sub-folder per trial, each holding rules.yaml)",
            Location(str(root)),
        )
    return folders


def load_portfolio(path: str | Path) -> Portfolio:
    """Load every rule set under ``path``; the unusable ones are returned as broken, located."""
    loaded: list[RuleSet] = []
    broken: list[BrokenRuleSet] = []
    for folder in rule_set_folders(path):
        file = str(find_rule_file(folder))
        try:
            ruleset = load_ruleset(folder)
        except InputError as error:
            broken.append(BrokenRuleSet(folder.name, file, str(error)))
            continue
        if ruleset.id != folder.name:
            where = ruleset.locate(("ruleset", "id"))
            message = f"rule set id {ruleset.id!r} differs from its folder's name {folder.name!r}"
            broken.append(BrokenRuleSet(folder.name, file, str(RuleSpecError(message, where))))
            continue
        loaded.append(ruleset)
    # Two rule sets for one trial: which one holds is not for screener to guess, so neither
    # is screened and each names the other.
    by_trial: dict[str, list[RuleSet]] = {}
    for ruleset in loaded:
        by_trial.setdefault(ruleset.trial, []).append(ruleset)
    usable: list[RuleSet] = []
    for ruleset in loaded:
        same = by_trial[ruleset.trial]
        if len(same) == 1:
            usable.append(ruleset)
            continue
        others = ", ".join(r.file for r in same if r is not ruleset)
        message = f"trial {ruleset.trial} is also the trial of {others}; neither is screened"
        error = RuleSpecError(message, ruleset.locate(("ruleset", "trial")))
        broken.append(BrokenRuleSet(Path(ruleset.file).parent.name, ruleset.file, str(error)))
    broken.sort(key=lambda b: b.folder)
    return Portfolio(str(path), tuple(usable), tuple(broken))
