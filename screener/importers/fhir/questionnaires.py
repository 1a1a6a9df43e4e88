"""FHIR QuestionnaireResponse -> scored assessments (the SELENA-SLEDAI total).

SELENA-SLEDAI has no LOINC or SNOMED CT code and no standard Questionnaire
(``terminology.yaml#sledai_score``). A completed (or amended) QuestionnaireResponse is read for
its items, nested ones included: an item whose ``code`` is an assessment code of the mapping
(screener's own ``selena-sledai``, docs/terminology.md) gives that score; an item without such a
code whose ``text`` names the SLEDAI total ("SELENA-SLEDAI score", "SLEDAI-2K total") gives it with
a warning, as for an Observation. A descriptor or item of the index is not a score. The answer is
``valueInteger``, ``valueDecimal`` or ``valueQuantity``; the date is ``authored`` (none: not
imported). In-progress, stopped or entered-in-error responses are set aside and counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from screener.importers.core import NativeBuilder, Origin, parse_date, parse_number
from screener.importers.fhir.common import at
from screener.importers.fhir.observations import SLEDAI_BY_TEXT, sledai_named
from screener.importers.mapping import AssessmentTarget

if TYPE_CHECKING:
    from screener.importers.fhir.converter import FhirConverter

READ_STATUSES = ("completed", "amended")


def _items(items: Any, path: str) -> Iterator[tuple[dict[str, Any], str]]:
    for i, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, dict):
            continue
        here = f"{path}item[{i}]"
        yield item, here
        yield from _items(item.get("item"), here + ".")
        for j, answer in enumerate(item.get("answer") or []):
            if isinstance(answer, dict):
                yield from _items(answer.get("item"), f"{here}.answer[{j}].")


def _target(conv: FhirConverter, item: dict[str, Any]) -> AssessmentTarget | None:
    for c in item.get("code") or []:
        if isinstance(c, dict) and c.get("code") is not None:
            found = conv.mapping.assessment(c.get("system"), c["code"])
            if found is not None:
                return found
    return None


def read_questionnaire_response(
    conv: FhirConverter, b: NativeBuilder, res: dict[str, Any], origin: Origin
) -> None:
    conv.log.records += 1
    status = res.get("status")
    if status not in READ_STATUSES:
        conv.log.skip(f"QuestionnaireResponse ({status})")
        return
    found = False
    for item, path in _items(res.get("item"), ""):
        target = _target(conv, item)
        if target is None and sledai_named({"text": item.get("text")}):
            target = SLEDAI_BY_TEXT
            b.problem(
                at(origin, f"{path}.text"),
                f"SELENA-SLEDAI score read from the item's words ({item.get('text')!r}): no standard code "
                "exists (terminology.yaml#sledai_score); check it is the total score",
                "warning",
            )
        if target is None:
            continue
        found = True
        where = at(origin, f"{path}.answer")
        if not res.get("authored"):
            b.problem(at(origin, "authored"), f"{target.name}: no authored date; not imported")
            return
        try:
            day = parse_date(res["authored"])
        except ValueError as error:
            b.problem(at(origin, "authored"), f"{error}; not imported")
            return
        answers = item.get("answer") if isinstance(item.get("answer"), list) else []
        first = answers[0] if answers and isinstance(answers[0], dict) else {}
        raw = first.get("valueInteger", first.get("valueDecimal"))
        if raw is None and isinstance(first.get("valueQuantity"), dict):
            raw = first["valueQuantity"].get("value")
        try:
            score = parse_number(raw)
        except (ValueError, TypeError):
            b.problem(where, f"{target.name}: answer {raw!r} is not a number; not imported")
            continue
        source = f"QuestionnaireResponse/{res.get('id')}#{path}"
        b.add(
            "assessments",
            {"name": target.name, "score": score, "date": day.isoformat(), "source": source},
            where,
        )
    if not found:
        conv.log.skip("QuestionnaireResponse (no item a criterion reads)")
