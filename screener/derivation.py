"""A derived value that cannot be computed is unknown: the one specification.

A rule set's ``derived:`` entries name a function of :data:`screener.clinical.FUNCTIONS`
and say where each argument comes from (a fact, a fact's field, an exposure field, the
screening date) and, optionally, a ``defaults:`` value for an argument that is missing.
Three implementations compute them: the engine (:mod:`screener.engine`), the Python
preparation of the fast path (:class:`screener.vectorized.flatten.Deriver`) and its SQL
preparation (:meth:`screener.vectorized.prepare.TablePreparation._rounded` and
``_input_sql``). All three follow these rules, with the constants and helpers below:

1. **Inputs.** A derived value exists only when every fact it reads counts at the
   screening date (as a durable_rules join requires); otherwise it is unknown.
2. **Defaults.** An input that is missing (the fact counts but has no such field, or the
   exposure has no such field) takes the rule's default; without one, the value is
   unknown.
3. **Arguments of the wrong type.** An argument that is not of the parameter's kind
   (:func:`param_kind`, :func:`fits`: a number where the function takes a number, text
   where it takes text, a date where it takes a date) makes the value unknown. The Python
   function raises ``TypeError``; the SQL preparation puts NULL in its place
   (:func:`sql_default`), so a default such as ``forty`` for a number is never cast,
   and ``"40"`` is never silently read as 40. The load-time checks
   (:mod:`screener.model.type_checks`) refuse such a rule file anyway, naming file, line
   and field; this rule is the second line of defence for rule sets built in code.
4. **Refused arguments.** Where the function refuses its arguments
   (:data:`DERIVATION_ERRORS`: a non-finite number, a weight <= 0, an unknown drug or
   frequency, a date before birth...) the value is unknown, never an error and never a
   default. The SQL twins (:mod:`screener.clinical.sql`) give NULL in the same cases.
5. **Rounding.** A float result is rounded to :data:`ROUND_DIGITS` decimals, half to even
   (Python's ``round``, DuckDB's ``round_even``), the same in every route.

An unknown derived value makes every test reading it unknown, with a to-do; it never lets
a patient pass.
"""

from __future__ import annotations

import datetime
import typing
from collections.abc import Callable
from functools import cache
from typing import Any

from screener.clinical import FUNCTIONS

#: What a clinical function raises when it cannot compute a value from its arguments. Every
#: route catches exactly these and leaves the derived value unknown.
DERIVATION_ERRORS: tuple[type[Exception], ...] = (ValueError, TypeError, ZeroDivisionError, KeyError)

#: Decimals a float result keeps (half to even), in every route.
ROUND_DIGITS = 4

#: Parameter annotation -> the kind of value it takes (the rule language's types).
_KINDS: dict[Any, str] = {
    float: "number",
    int: "number",
    str: "string",
    datetime.date: "date",
    bool: "boolean",
}


@cache
def param_kinds(function: str) -> dict[str, str]:
    """Each parameter of clinical function ``function`` -> ``number``, ``string``, ``date`` or ``boolean``."""
    fn: Callable[..., Any] = FUNCTIONS[function].fn
    hints = typing.get_type_hints(fn)
    out: dict[str, str] = {}
    for param in FUNCTIONS[function].params:
        kind = _KINDS.get(hints.get(param))
        if kind is None:
            raise TypeError(f"clinical function {function}: parameter {param} has no usable type hint")
        out[param] = kind
    return out


def param_kind(function: str, param: str) -> str:
    return param_kinds(function)[param]


def fits(kind: str, value: Any) -> bool:
    """Whether ``value`` is a value of ``kind`` (a number is never true/false, a date never text)."""
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "date":
        return isinstance(value, datetime.date)
    return False


def compute(function: str, kwargs: dict[str, Any]) -> Any:
    """The rounded value of ``function(**kwargs)``, or None (unknown) when it cannot be computed."""
    try:
        result = FUNCTIONS[function].fn(**kwargs)
    except DERIVATION_ERRORS:
        return None
    return rounded(result)


def rounded(result: Any) -> Any:
    """A float result rounded as every route rounds it."""
    return round(result, ROUND_DIGITS) if isinstance(result, float) else result


def sql_default(function: str, param: str, value: Any, literal: Callable[[Any], str]) -> str:
    """SQL for a rule's default of ``param``: the literal when it fits the parameter, else NULL
    (rule 3: the derived value is then unknown, as in Python, instead of a cast error)."""
    return literal(value) if fits(param_kind(function, param), value) else "NULL"
