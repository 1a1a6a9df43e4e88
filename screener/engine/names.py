"""The names the compiled rules and the engine's actions share, written once.

:mod:`screener.engine.compile` writes rules with these rule names, pattern names
and fact kinds; the action (:mod:`screener.engine.glue`) and the evaluators read
them back from what fired. Base facts get their ids in :mod:`screener.facts`
(``f:<name>``, the same as :func:`base_fact_id`).
"""

from __future__ import annotations

# Pattern names in a rule (the keys of what an action is given as matched).
FACT = "f"  # a scalar fact (base or derived)
RECORD = "e"  # a record: an exposure, or a quantifier's member fact
VALUE = "v"  # a value derived per exposure
CONTEXT = "ctx"  # the screening context (its date)

# Fact kinds.
KIND_FACT = "fact"
KIND_MEMBER = "member"  # a record re-asserted for one quantifier
KIND_EXPOSURE = "exposure"
KIND_EXPOSURE_VALUE = "exposure_value"
KIND_CONTEXT = "context"

# Rule kinds: the part of a rule's name after the colon.
HOLDS, FAILS, CANDIDATE = "true", "false", "candidate"
_DERIVE = "derive"


def input_pattern(source: str) -> str:
    """The pattern that matches the fact a derived value reads as input."""
    return f"i_{source}"


def truth_rule(tid: str, holds: bool) -> str:
    """The rule that fires when test ``tid`` holds (``holds``) or fails."""
    return f"{tid}:{HOLDS if holds else FAILS}"


def candidate_rule(qid: str) -> str:
    """The rule that fires for each record quantifier ``qid`` looks at."""
    return f"{qid}:{CANDIDATE}"


def derive_rule(name: str) -> str:
    return f"{_DERIVE}:{name}"


def rule_kind(rule: str) -> tuple[str, str]:
    """(test or quantifier id, kind) of a test or candidate rule's name."""
    key, _, kind = rule.partition(":")
    return key, kind


def base_fact_id(name: str) -> str:
    return f"f:{name}"


def derived_fact_id(name: str, owner: str | None = None) -> str:
    """A derived value's id; ``owner``: the exposure a per-exposure value belongs to."""
    return f"d:{name}" if owner is None else f"d:{name}:{owner}"


def member_id(qid: str, record: str) -> str:
    return f"{qid}:{record}"


def derive_error_key(name: str, owner: str | None = None) -> str:
    """Where a failed derivation's message is kept (per exposure for per-exposure values)."""
    return name if owner is None else f"{name}:{owner}"


# Fields the engine adds: a member fact's quantifier and record, a per-exposure value's owner.
MEMBER_OF = "q"
MEMBER_RECORD = "rec"
VALUE_OF = "of"
