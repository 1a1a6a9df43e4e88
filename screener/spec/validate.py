"""Validate loaded YAML/JSON against a shipped JSON Schema.

Errors are reported the way python-jsonschema's ``best_match`` would pick them,
then located with the file's line map: ``rules.yaml:42: criteria[3].test: ...``.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema_rs

from screener.errors import InputError
from screener.yamlio import LineMap

if TYPE_CHECKING:  # python-jsonschema is imported only to explain a file that is not valid
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError


@cache
def schema(name: str) -> dict[str, Any]:
    """Load a shipped schema by file name (``rules.schema.json``...)."""
    # beside this module (not importlib.resources: its import costs ~10 ms at every start)
    text = Path(__file__).with_name(name).read_text(encoding="utf-8")
    return json.loads(text)


@cache
def _validator(name: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator, FormatChecker

    return Draft202012Validator(schema(name), format_checker=FormatChecker())


@cache
def _fast_validator(name: str) -> Any:
    # jsonschema-rs (Rust) answers "valid?" in microseconds where python-jsonschema
    # takes milliseconds per patient; python-jsonschema still writes the messages.
    return jsonschema_rs.validator_for(schema(name), validate_formats=True)


_TYPE_WORDS = {
    "number": "a number",
    "integer": "a whole number",
    "string": "text",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
    "null": "empty",
}


def _type_words(expected: Any) -> str:
    names = expected if isinstance(expected, list) else [expected]
    return " or ".join(_TYPE_WORDS.get(n, n) for n in names)


def _what(instance: Any) -> str:
    if isinstance(instance, bool):
        return "true/false"
    if isinstance(instance, str):
        return f"the text {instance!r}" if len(instance) < 40 else "text"
    if isinstance(instance, dict):
        return "a mapping"
    if isinstance(instance, list):
        return "a list"
    return repr(instance)


def _unknown_key(key: str, allowed: set[str]) -> str:
    from screener.model.rules import suggest

    hint = suggest(key, allowed)
    return f"unknown key '{key}'" + (hint or f"; expected one of {', '.join(sorted(allowed))}")


def _required_only(branches: list[Any]) -> list[str] | None:
    """Keys of a ``oneOf`` whose branches are each ``{"required": [key]}`` (pick one of)."""
    keys = []
    for branch in branches:
        if not isinstance(branch, dict) or set(branch) != {"required"} or len(branch["required"]) != 1:
            return None
        keys.append(branch["required"][0])
    return keys


def _explain(error: ValidationError) -> tuple[str, list[str | int]]:
    """The message a person needs and the path of the key to edit, for one schema error.

    For a ``oneOf`` (a test is a group, a fact test or a quantifier), the branch the value
    chose by its keys is explained, not whichever branch jsonschema ranks first.
    """
    from jsonschema.exceptions import best_match, relevance

    path = list(error.absolute_path)
    instance = error.instance
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        allowed = set(error.schema.get("properties", {}))
        extra = [k for k in instance if k not in allowed]
        if extra:
            return _unknown_key(str(extra[0]), allowed), [*path, extra[0]]
    if error.validator == "type":
        name = str(path[-1]) if path else "the file"
        return f"{name} must be {_type_words(error.validator_value)}, not {_what(instance)}", path
    if error.validator == "minItems":
        name = str(path[-1]) if path else "the list"
        return f"{name} must list at least {error.validator_value} item(s); it is empty", path
    if error.validator == "enum" and isinstance(instance, str):
        from screener.model.rules import suggest

        allowed = [str(v) for v in error.validator_value]
        return f"{instance!r} is not one of {', '.join(allowed)}{suggest(instance, set(allowed))}", path
    if error.validator in ("oneOf", "anyOf"):
        keys = _required_only(error.validator_value)
        if keys is not None and isinstance(instance, dict):
            present = [k for k in keys if k in instance]
            if not present:
                return f"needs one of: {', '.join(keys)}", path
            return f"has {' and '.join(present)}: give exactly one of them (one per test)", path
    if error.validator in ("oneOf", "anyOf") and error.context:
        same_level = [e for e in error.context if list(e.absolute_path) == path]
        branches: dict[Any, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.schema_path[0] if sub.schema_path else None, []).append(sub)

        def fit(subs: list[ValidationError]) -> tuple[int, int]:
            # how many of the value's keys the branch does not know, then whether it
            # lacks a required key: the branch with the fewest is the one the author meant
            extra = required = 0
            for s in subs:
                if list(s.absolute_path) != path:
                    continue
                if s.validator == "additionalProperties" and isinstance(instance, dict):
                    extra = max(extra, sum(1 for k in instance if k not in s.schema.get("properties", {})))
                if s.validator == "required":
                    required = 1
            return extra, required

        scored = sorted((fit(subs), i) for i, subs in enumerate(branches.values()))
        candidates = list(branches.values())
        if (
            scored
            and (len(scored) == 1 or scored[0][0] < scored[1][0])
            and scored[0][0][0] < len(instance or ())
        ):
            subs = candidates[scored[0][1]]
            ordered = sorted(
                subs,
                key=lambda e: (e.validator != "additionalProperties", -len(e.absolute_path), relevance(e)),
            )
            return _explain(ordered[0])
        if isinstance(instance, dict):
            allowed: set[str] = set()
            for sub in same_level:
                allowed |= set(sub.schema.get("properties", {})) if isinstance(sub.schema, dict) else set()
            extra = [k for k in instance if k not in allowed]
            if allowed and extra:
                return _unknown_key(str(extra[0]), allowed), [*path, extra[0]]
        deepest = best_match(error.context)
        if deepest is not None:
            return _explain(deepest)
    return error.message, path


def schema_errors(
    data: Any, schema_name: str, lines: LineMap, error_class: type[InputError]
) -> list[InputError]:
    """All schema violations, most relevant first, each with file, line and field."""
    if _fast_validator(schema_name).is_valid(data):
        return []
    from jsonschema.exceptions import relevance

    validator = _validator(schema_name)
    errors = sorted(validator.iter_errors(data), key=relevance)
    out: list[InputError] = []
    for error in errors:
        message, path = _explain(error)
        out.append(error_class(message, lines.locate(path)))
    return out
