"""Which rule set, screening date, format and program produced an output.

Every batch row (CSV columns, JSONL keys), ``screener screen --format json`` and every saved
screening record carries the same block, so an auditor can re-run any single row::

    screener screen PATIENT --rules RULES --as-of <as_of>

and compare: same rule-set sha256, same decision. The names are the CSV column names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from screener import __version__
from screener.results import JSON_SCHEMA_VERSION

# Version of the batch row format (CSV columns / JSONL keys). 2: provenance columns added.
ROW_FORMAT_VERSION = "2"

PROVENANCE_COLUMNS = (
    "ruleset_id",
    "ruleset_version",
    "ruleset_sha256",
    "as_of",
    "row_format",
    "result_schema",
    "screener_version",
)


@lru_cache(maxsize=1)
def screener_version() -> str:
    """The installed screener's version (the package metadata, else the source tree's)."""
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("screener")
    except (ImportError, PackageNotFoundError):  # pragma: no cover - running from a bare tree
        return __version__


@dataclass(frozen=True)
class Provenance:
    ruleset_id: str
    ruleset_version: str
    ruleset_sha256: str
    as_of: date
    trial: str = ""
    row_format: str = ROW_FORMAT_VERSION
    result_schema: str = JSON_SCHEMA_VERSION
    screener_version: str = ""

    @classmethod
    def of(cls, ruleset: Any, as_of: date) -> Provenance:
        """From a :class:`screener.model.rules.RuleSet` (or anything with id/version/sha256/trial)."""
        return cls(
            ruleset_id=ruleset.id,
            ruleset_version=ruleset.version,
            ruleset_sha256=ruleset.sha256,
            as_of=as_of,
            trial=getattr(ruleset, "trial", ""),
            screener_version=screener_version(),
        )

    def columns(self) -> dict[str, str]:
        """The block as row columns, in :data:`PROVENANCE_COLUMNS` order."""
        return {
            "ruleset_id": self.ruleset_id,
            "ruleset_version": self.ruleset_version,
            "ruleset_sha256": self.ruleset_sha256,
            "as_of": self.as_of.isoformat(),
            "row_format": self.row_format,
            "result_schema": self.result_schema,
            "screener_version": self.screener_version,
        }


def result_columns(result: Any) -> dict[str, str]:
    """The provenance columns of one screening result (:class:`screener.results.ScreeningResult`)."""
    return Provenance(
        ruleset_id=result.ruleset_id,
        ruleset_version=result.ruleset_version,
        ruleset_sha256=result.ruleset_sha256,
        as_of=result.as_of,
        trial=result.trial,
        screener_version=screener_version(),
    ).columns()
