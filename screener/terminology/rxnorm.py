"""RxNorm products to ingredient, strength and route.

Two sources, in this order:

1. the RxNorm release files, when the user points screener at them (``RXNCONSO.RRF`` and
   ``RXNREL.RRF`` of the monthly or weekly release, NLM): a branded drug (SBD, BPCK) goes to its
   clinical drug (SCD, GPCK) through ``tradename_of`` / ``has_tradename``, a pack to its drugs
   through ``contains`` / ``contained_in``, a clinical drug to its components (SCDC) through
   ``consists_of`` / ``constitutes`` and a component to its ingredient (IN) through
   ``has_ingredient`` / ``ingredient_of``; the strength is read from the component's normalised
   name. Columns as in the RxNorm Technical Documentation (NLM): RXNCONSO ``RXCUI|LAT|TS|LUI|
   STT|SUI|ISPREF|RXAUI|SAUI|SCUI|SDUI|SAB|TTY|CODE|STR|...``; RXNREL follows the UMLS MRREL
   layout ``RXCUI1|RXAUI1|STYPE1|REL|RXCUI2|RXAUI2|STYPE2|RELA|RUI|SRUI|SAB|...``, where the
   relationship is the one RXCUI2 has to RXCUI1 and asymmetrical ones appear in both
   directions. Relationships are followed by the term type (TTY) of the neighbour, so the
   direction does not matter here.
2. otherwise, RxNorm's normalised names (RxNorm technical documentation, "RxNorm Normal Form"
   and the SCD naming convention ``<ingredient> <strength> <unit> <dose form>``), for example
   ``prednisone 20 MG Oral Tablet``, ``24 HR metoprolol succinate 100 MG Extended Release Oral
   Tablet [Toprol]``, ``1 ML medroxyprogesterone acetate 150 MG/ML Injection`` (a quantified
   drug: 150 mg per unit) or packs ``{28 (norethindrone 0.35 MG Oral Tablet) } Pack [Camila]``.

A name gives a strength per unit only for a unit dose form (tablet, capsule, a quantified
injection); a concentration (``10 MG/ML`` cream) or a rate (``0.025 MG/HR`` patch) gives none,
so a daily dose is never guessed from it.
"""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

_MASS = {"MG": 1.0, "MCG": 0.001, "UG": 0.001, "G": 1000.0}
_AMOUNT = re.compile(
    r"(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>MG|MCG|UG|G|UNT|MEQ|ML|%)(?:/(?P<per>ML|HR|ACTUAT|MG|G|L|DAY))?\b",
    re.IGNORECASE,
)
_QUANT = re.compile(r"^(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>ML|HR|DAY|ACTUAT)\s+", re.IGNORECASE)
_BRAND = re.compile(r"\s*\[[^\]]*\]\s*$")
_PREFIX = re.compile(r"^(?:(?:N?DA|BLA|ANDA)\d+|Abuse-Deterrent)\s+", re.IGNORECASE)
# dose form words -> native route (patient.schema.json medication.route); None = not told
_FORM_ROUTES = (
    ("topical", "topical"),
    ("cutaneous", "topical"),
    ("ophthalmic", "other"),
    ("otic", "other"),
    ("vaginal", "other"),
    ("rectal", "other"),
    ("nasal", "other"),
    ("inhal", "inhaled"),
    ("oral", "oral"),
    ("chewable", "oral"),
    ("sublingual", "oral"),
)
_UNIT_FORMS = (
    "tablet",
    "capsule",
    "injection",
    "prefilled syringe",
    "auto-injector",
    "pen injector",
    "lozenge",
)


@dataclass(frozen=True)
class Ingredient:
    name: str  # as written, lower case (e.g. "prednisone", "hydroxychloroquine sulfate")
    strength_mg: float | None  # per unit (tablet, capsule, quantified injection), mg


@dataclass(frozen=True)
class Product:
    """What a product name says: its ingredients, dose form route and whether it is a pack."""

    ingredients: tuple[Ingredient, ...]
    route: str | None
    form: str
    pack: bool = False


def _route(form: str) -> str | None:
    low = form.lower()
    for word, route in _FORM_ROUTES:
        if word in low:
            return route
    return None


def _component(text: str, quantity: tuple[float, str] | None, form: str) -> Ingredient | None:
    """``prednisone 20 MG`` -> Ingredient('prednisone', 20.0)."""
    m = _AMOUNT.search(text)
    if m is None:
        name = text.strip().lower()
        return Ingredient(name, None) if name else None
    name = text[: m.start()].strip().strip(",").lower()
    if not name:
        return None
    unit, per = m.group("unit").upper(), (m.group("per") or "").upper()
    value = float(m.group("value"))
    strength: float | None = None
    unit_form = any(w in form.lower() for w in _UNIT_FORMS)
    if unit in _MASS and not per and unit_form:
        strength = value * _MASS[unit]
    elif unit in _MASS and per == "ML" and quantity is not None and quantity[1] == "ML":
        strength = value * _MASS[unit] * quantity[0]  # quantified drug: 1 ML x 150 MG/ML
    return Ingredient(name, round(strength, 6) if strength is not None else None)


def parse_name(name: str) -> Product | None:
    """Ingredients, strengths and route from an RxNorm normalised name; None if it is not one."""
    text = " ".join(str(name).split())
    if not text:
        return None
    text = _BRAND.sub("", text)
    if text.startswith("{"):
        inner = re.findall(r"\d+\s*\(([^()]*(?:\([^()]*\)[^()]*)*)\)", text)
        parts = [parse_name(p) for p in inner]
        ingredients = tuple(i for p in parts if p for i in p.ingredients if i.name != "inert ingredients")
        if not ingredients:
            return None
        routes = {p.route for p in parts if p}
        route = routes.pop() if len(routes) == 1 else None
        # strengths differ between the pack's tablets: none is the pack's strength
        return Product(tuple(Ingredient(i.name, None) for i in ingredients), route, "pack", pack=True)
    quantity = None
    while (pm := _PREFIX.match(text)) is not None:
        text = text[pm.end() :]
    qm = _QUANT.match(text)
    if qm:
        quantity = (float(qm.group("value")), qm.group("unit").upper())
        text = text[qm.end() :]
    # the dose form follows the last strength (SCD naming: ingredient strength unit form)
    amounts = list(_AMOUNT.finditer(text))
    if not amounts:
        return None
    last = amounts[-1]
    form = text[last.end() :].strip()
    head = text[: last.end()]
    pieces = [p for p in head.split(" / ") if p.strip()]
    ingredients = tuple(i for i in (_component(p, quantity, form) for p in pieces) if i is not None)
    if not ingredients:
        return None
    return Product(ingredients, _route(form), form)


# ------------------------------------------------------------------------------- release files

_PRODUCT_TTYS = {"SCD", "SBD", "GPCK", "BPCK"}
_INGREDIENT_TTYS = {"IN", "PIN", "MIN"}


@dataclass
class RxNormRelease:
    """The parts of an RxNorm release needed to go from a product to its ingredients."""

    names: dict[str, tuple[str, str]] = field(default_factory=dict)  # rxcui -> (tty, name)
    links: dict[str, set[str]] = field(default_factory=dict)  # rxcui -> neighbours (both directions)
    directory: str = ""

    @classmethod
    def load(cls, directory: Path) -> RxNormRelease:
        """Read ``RXNCONSO.RRF`` (SAB=RXNORM rows) and ``RXNREL.RRF`` from ``directory`` (or its ``rrf/``)."""
        base = directory / "rrf" if (directory / "rrf" / "RXNCONSO.RRF").exists() else directory
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
        release = cls(directory=str(base))
        wanted = _PRODUCT_TTYS | _INGREDIENT_TTYS | {"SCDC", "SBDC"}
        with (base / "RXNCONSO.RRF").open(encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle, delimiter="|", quoting=csv.QUOTE_NONE):
                # RXCUI|LAT|TS|LUI|STT|SUI|ISPREF|RXAUI|SAUI|SCUI|SDUI|SAB|TTY|CODE|STR|...
                if len(row) > 14 and row[11] == "RXNORM" and row[12] in wanted:
                    release.names.setdefault(row[0], (row[12], row[14]))
        keep = {
            "tradename_of", "has_tradename", "contains", "contained_in", "consists_of",
            "constitutes", "has_ingredient", "ingredient_of", "has_precise_ingredient",
            "precise_ingredient_of",
        }  # fmt: skip
        with (base / "RXNREL.RRF").open(encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle, delimiter="|", quoting=csv.QUOTE_NONE):
                # RXCUI1|RXAUI1|STYPE1|REL|RXCUI2|RXAUI2|STYPE2|RELA|RUI|SRUI|SAB|...
                if len(row) > 10 and row[10] == "RXNORM" and row[7] in keep and row[0] and row[4]:
                    release.links.setdefault(row[0], set()).add(row[4])
                    release.links.setdefault(row[4], set()).add(row[0])
        return release

    def _neighbours(self, cui: str, ttys: Iterable[str]) -> list[str]:
        want = set(ttys)
        return sorted(n for n in self.links.get(cui, ()) if self.names.get(n, ("", ""))[0] in want)

    def product(self, rxcui: str) -> tuple[Product, tuple[str, ...]] | None:
        """The product's ingredients (IN names) and strengths, and the ingredient RXCUIs."""
        tty, name = self.names.get(rxcui, ("", ""))
        if tty in _INGREDIENT_TTYS:
            return Product((Ingredient(name.lower(), None),), None, "ingredient"), (rxcui,)
        if tty not in _PRODUCT_TTYS:
            return None
        clinical = [rxcui] if tty in ("SCD", "GPCK") else self._neighbours(rxcui, ("SCD", "GPCK"))
        drugs: list[str] = []
        for c in clinical:
            drugs.extend(self._neighbours(c, ("SCD",)) if self.names[c][0] == "GPCK" else [c])
        ingredients: list[Ingredient] = []
        cuis: list[str] = []
        for scd in drugs or clinical:
            parsed = parse_name(self.names[scd][1])
            for comp in self._neighbours(scd, ("SCDC",)):
                for ing in self._neighbours(comp, _INGREDIENT_TTYS):
                    part = parse_name(self.names[comp][1] + " " + (parsed.form if parsed else ""))
                    strength = part.ingredients[0].strength_mg if part and part.ingredients else None
                    ingredients.append(Ingredient(self.names[ing][1].lower(), strength))
                    cuis.append(ing)
        if not ingredients:
            return None
        pack = tty in ("GPCK", "BPCK")
        if pack:
            ingredients = [Ingredient(i.name, None) for i in ingredients]
        parsed = parse_name(self.names[(drugs or clinical)[0]][1]) if (drugs or clinical) else None
        return Product(
            tuple(ingredients), parsed.route if parsed else None, "pack" if pack else "", pack
        ), tuple(cuis)
