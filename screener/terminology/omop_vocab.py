"""OMOP vocabulary tables: CONCEPT, CONCEPT_RELATIONSHIP, CONCEPT_ANCESTOR, DRUG_STRENGTH.

OMOP CDM 5.3/5.4 vocabulary tables (OHDSI CDM documentation, "Standardized Vocabularies"):

- ``CONCEPT_RELATIONSHIP`` rows ``concept_id_1 relationship_id concept_id_2 ... invalid_reason``;
  ``Maps to`` leads from a source (non-standard) concept to its standard concept;
- ``CONCEPT_ANCESTOR`` rows ``ancestor_concept_id descendant_concept_id
  min_levels_of_separation max_levels_of_separation`` (the transitive closure of the
  hierarchy, each concept its own ancestor at level 0);
- ``DRUG_STRENGTH`` rows ``drug_concept_id ingredient_concept_id amount_value
  amount_unit_concept_id numerator_value numerator_unit_concept_id denominator_value
  denominator_unit_concept_id box_size ...``: the amount per unit for solid forms, or a
  numerator/denominator concentration.

Athena vocabulary downloads are tab-separated in files named ``.csv``; CDM extracts are
usually comma-separated: the delimiter is read from the header line. Every reader streams its
file once and keeps only the rows asked for.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

# OMOP standard UCUM unit concepts for mass (used when the CONCEPT table lacks the unit row)
MASS_UNIT_CONCEPTS = {"8576": 1.0, "9655": 0.001, "8504": 1000.0}  # milligram, microgram, gram
MASS_UNIT_CODES = {"mg": 1.0, "ug": 0.001, "g": 1000.0}


def rows(path: Path) -> Iterator[dict[str, str]]:
    """Rows of a vocabulary table as dicts of lower-case column names (comma or tab separated)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        header = handle.readline()
        delimiter = "\t" if "\t" in header else ","
        names = [h.strip().lower() for h in next(csv.reader([header], delimiter=delimiter))]
        for row in csv.reader(
            handle, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL if delimiter == "," else csv.QUOTE_NONE
        ):
            if row:
                yield dict(zip(names, (v.strip() for v in row), strict=False))


def maps_to(path: Path, ids: set[str]) -> dict[str, list[str]]:
    """Standard concepts that each of ``ids`` maps to (valid ``Maps to`` rows)."""
    out: dict[str, list[str]] = {}
    for row in rows(path):
        if (
            row.get("relationship_id") == "Maps to"
            and row.get("concept_id_1") in ids
            and not row.get("invalid_reason")
        ):
            target = row.get("concept_id_2", "")
            if target and target != row["concept_id_1"]:
                out.setdefault(row["concept_id_1"], []).append(target)
    return out


def ancestors_of(path: Path, descendants: set[str]) -> dict[str, list[tuple[str, int]]]:
    """Ancestors of each of ``descendants`` with their level, nearest first."""
    out: dict[str, list[tuple[str, int]]] = {}
    for row in rows(path):
        d = row.get("descendant_concept_id", "")
        if d in descendants:
            out.setdefault(d, []).append(
                (row.get("ancestor_concept_id", ""), _int(row.get("min_levels_of_separation")))
            )
    for v in out.values():
        v.sort(key=lambda a: a[1])
    return out


def descendants_of(path: Path, ancestors: set[str]) -> dict[str, list[tuple[str, int]]]:
    """For every descendant of one of ``ancestors``: (ancestor, level), nearest first."""
    out: dict[str, list[tuple[str, int]]] = {}
    for row in rows(path):
        a = row.get("ancestor_concept_id", "")
        if a in ancestors:
            out.setdefault(row.get("descendant_concept_id", ""), []).append(
                (a, _int(row.get("min_levels_of_separation")))
            )
    for v in out.values():
        v.sort(key=lambda x: x[1])
    return out


@dataclass(frozen=True)
class Strength:
    """One DRUG_STRENGTH row: an ingredient and its amount per unit (solid forms)."""

    ingredient: str  # ingredient concept id
    amount: float | None  # amount_value; None for a concentration (numerator/denominator)
    unit: str  # amount_unit_concept_id

    def mg(self, units: dict[str, str]) -> float | None:
        """The amount in mg per unit (None: no amount, or not a mass unit)."""
        if self.amount is None:
            return None
        factor = mass_factor(self.unit, units)
        return round(self.amount * factor, 6) if factor is not None else None


def drug_strengths(path: Path, drugs: set[str]) -> dict[str, list[Strength]]:
    """The DRUG_STRENGTH rows of each of ``drugs`` (valid rows only)."""
    out: dict[str, list[Strength]] = {}
    for row in rows(path):
        drug = row.get("drug_concept_id", "")
        if drug not in drugs or row.get("invalid_reason"):
            continue
        try:
            amount = float(row["amount_value"]) if row.get("amount_value") else None
        except ValueError:
            amount = None
        out.setdefault(drug, []).append(
            Strength(row.get("ingredient_concept_id", ""), amount, row.get("amount_unit_concept_id", ""))
        )
    return out


def mass_factor(unit_concept: str, units: dict[str, str]) -> float | None:
    """mg per unit of a unit concept (None if it is not a mass unit)."""
    code = units.get(unit_concept)
    if code is not None:
        return MASS_UNIT_CODES.get(code.strip().lower().replace("µ", "u"))
    return MASS_UNIT_CONCEPTS.get(unit_concept)


def _int(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0


def find_table(directory: Path, name: str) -> Path | None:
    """``name``.csv / .tsv in ``directory`` (case-insensitive), if present."""
    for path in sorted(directory.iterdir()) if directory.is_dir() else ():
        low = path.name.lower()
        if low in (f"{name}.csv", f"{name}.tsv"):
            return path
    return None


@dataclass
class ExtractVocabulary:
    """What the extract's vocabulary tables say about the concepts its rows use.

    ``maps_to``: source concept -> standard concepts (CONCEPT_RELATIONSHIP "Maps to");
    ``ancestors``: concept -> (ancestor, level) nearest first (CONCEPT_ANCESTOR), so a
    descendant of a mapped concept counts as it; ``strengths``: drug concept -> DRUG_STRENGTH
    rows (ingredient, amount per unit). Empty when the tables are absent.
    """

    maps_to: dict[str, list[str]] = field(default_factory=dict)
    ancestors: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    strengths: dict[str, list[Strength]] = field(default_factory=dict)

    def concept_ids(self, row: dict[str, str], prefix: str) -> list[str]:
        """The row's concept, its source concept, and the standard concepts the source maps to."""
        out = []
        for col in (f"{prefix}_concept_id", f"{prefix}_source_concept_id"):
            cid = row.get(col, "")
            if cid not in ("", "0") and cid not in out:
                out.append(cid)
        for target in self.maps_to.get(row.get(f"{prefix}_source_concept_id", ""), ()):
            if target not in out:
                out.append(target)
        return out

    @classmethod
    def read(
        cls,
        tables: dict[str, Path],
        rows: dict[str, dict[str, list[tuple[int, dict[str, str]]]]],
        needed: set[str],
    ) -> ExtractVocabulary:
        """Stream each vocabulary table once for the concepts ``rows`` use; grows ``needed``.

        ``tables``: table name -> file (``concept_relationship``, ``concept_ancestor``,
        ``drug_strength`` when present); ``rows``: person -> table -> (line, row) of the
        clinical rows read; ``needed``: the concept ids to read from CONCEPT, grown with the
        standard concepts, ancestors, ingredients and units found here.
        """
        vocab = cls()
        sources: set[str] = set()
        for tables_rows in rows.values():
            for table, prefix in (("condition_occurrence", "condition"), ("drug_exposure", "drug")):
                for _line, row in tables_rows.get(table, ()):
                    sources.add(row.get(f"{prefix}_source_concept_id", ""))
        sources -= {"", "0"}
        if "concept_relationship" in tables and sources:
            vocab.maps_to = maps_to(tables["concept_relationship"], sources)
            needed.update(t for ts in vocab.maps_to.values() for t in ts)
        used: set[str] = set()
        drugs: set[str] = set()
        for tables_rows in rows.values():
            for table, prefix in (("condition_occurrence", "condition"), ("drug_exposure", "drug")):
                for _line, row in tables_rows.get(table, ()):
                    ids = vocab.concept_ids(row, prefix)
                    used.update(ids)
                    if table == "drug_exposure":
                        drugs.update(ids)
        if "concept_ancestor" in tables and used:
            vocab.ancestors = ancestors_of(tables["concept_ancestor"], used)
            needed.update(a for ancestors in vocab.ancestors.values() for a, _ in ancestors)
        if "drug_strength" in tables and drugs:
            vocab.strengths = drug_strengths(tables["drug_strength"], drugs)
            needed.update(s.ingredient for ss in vocab.strengths.values() for s in ss)
            needed.update(s.unit for ss in vocab.strengths.values() for s in ss)
        return vocab
