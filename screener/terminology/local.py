"""A local terminology directory the user points screener at (``--terminology DIR``,
``SCREENER_TERMINOLOGY``).

Large or licensed terminologies are not bundled with screener; the directory may hold any of:

- an RxNorm release (``RXNCONSO.RRF`` and ``RXNREL.RRF``, at the top or in ``rrf/``): product
  codes the mapping does not list go to their ingredient and strength;
- a SNOMED CT RF2 release (``sct2_Relationship_Snapshot*.txt`` anywhere below): a SNOMED code
  the mapping does not list counts as its nearest mapped ancestor (descendants count);
- OMOP vocabulary tables (``CONCEPT.csv`` and ``CONCEPT_ANCESTOR.csv``, Athena download): the
  same for SNOMED codes, through CONCEPT_ANCESTOR.

Each answer names the source that gave it, for the import report. Files are read on first use.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from screener.errors import InputError, Location
from screener.terminology import omop_vocab, rxnorm, snomed

if TYPE_CHECKING:
    from screener.importers.mapping import ConditionTarget, Mapping

SNOMED_URI = "http://snomed.info/sct"


class TerminologyError(InputError):
    """The terminology directory cannot be used (reported like any bad input, never a traceback)."""


class LocalTerminology:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.rxnorm_dir = (
            directory
            if (directory / "RXNCONSO.RRF").exists() or (directory / "rrf" / "RXNCONSO.RRF").exists()
            else None
        )
        self.rf2 = snomed.find_snapshot(directory)
        self.concept = omop_vocab.find_table(directory, "concept")
        self.ancestor = omop_vocab.find_table(directory, "concept_ancestor")
        self._rx: rxnorm.RxNormRelease | None = None
        self._sct: snomed.SnomedHierarchy | None = None
        self._omop: dict[str, Any] | None = None
        self._conditions: dict[tuple[int, str], ConditionTarget | None] = {}

    def sources(self) -> list[str]:
        """What this directory provides, for messages and the import report."""
        out = []
        if self.rxnorm_dir:
            out.append("RxNorm RRF")
        if self.rf2:
            out.append(f"SNOMED CT RF2 ({self.rf2.name})")
        if self.concept and self.ancestor:
            out.append("OMOP vocabulary (CONCEPT, CONCEPT_ANCESTOR)")
        return out

    # -------------------------------------------------------------------------------- RxNorm

    def rxnorm_product(self, rxcui: str) -> rxnorm.Product | None:
        if self.rxnorm_dir is None:
            return None
        if self._rx is None:
            self._rx = rxnorm.RxNormRelease.load(self.rxnorm_dir)
        found = self._rx.product(rxcui)
        return found[0] if found else None

    # -------------------------------------------------------------------------------- SNOMED

    def condition(self, mapping: Mapping, system: str, code: str) -> ConditionTarget | None:
        """The mapped condition of the nearest mapped ancestor of a SNOMED code (None: none)."""
        if system != SNOMED_URI:
            return None
        key = (id(mapping), code)
        if key not in self._conditions:
            self._conditions[key] = self._snomed_condition(mapping, code)
        return self._conditions[key]

    def _snomed_condition(self, mapping: Mapping, code: str) -> ConditionTarget | None:
        if self.rf2 is not None:
            if self._sct is None:
                self._sct = snomed.SnomedHierarchy.load(self.rf2)
            for ancestor, depth in self._sct.ancestors(code):
                target = mapping.conditions.get((SNOMED_URI, ancestor)) if depth else None
                if target is not None:
                    return replace(target, via=f"SNOMED CT RF2 (is-a {ancestor}, {depth} level(s))")
        if self.concept is not None and self.ancestor is not None:
            omop = self._omop_index(mapping)
            cid = omop["by_code"].get(code)
            for ancestor, level in omop["descendants"].get(cid, ()) if cid else ():
                target = mapping.conditions.get((SNOMED_URI, omop["by_id"].get(ancestor, "")))
                if target is not None and level > 0:
                    return replace(
                        target, via=f"OMOP CONCEPT_ANCESTOR (descendant of {omop['by_id'][ancestor]})"
                    )
        return None

    def _omop_index(self, mapping: Mapping) -> dict[str, Any]:
        if self._omop is None:
            assert self.concept is not None and self.ancestor is not None
            mapped = {code for (system, code) in mapping.conditions if system == SNOMED_URI}
            by_code: dict[str, str] = {}
            by_id: dict[str, str] = {}
            for row in omop_vocab.rows(self.concept):
                if row.get("vocabulary_id") == "SNOMED":
                    by_code[row.get("concept_code", "")] = row.get("concept_id", "")
                    if row.get("concept_code") in mapped:
                        by_id[row.get("concept_id", "")] = row.get("concept_code", "")
            self._omop = {
                "by_code": by_code,
                "by_id": by_id,
                "descendants": omop_vocab.descendants_of(self.ancestor, set(by_id)),
            }
        return self._omop


def terminology_from(directory: Path) -> LocalTerminology:
    """The terminology in ``directory``; an error naming it if it holds none screener can read."""
    if not directory.is_dir():
        raise TerminologyError(
            "terminology directory does not exist or is not a directory", Location(str(directory))
        )
    local = LocalTerminology(directory)
    if not local.sources():
        raise TerminologyError(
            "no terminology found (expected RXNCONSO.RRF + RXNREL.RRF, an RF2 "
            "sct2_Relationship_Snapshot*.txt, or OMOP CONCEPT.csv + CONCEPT_ANCESTOR.csv)",
            Location(str(directory)),
        )
    return local
