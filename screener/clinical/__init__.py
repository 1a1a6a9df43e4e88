"""Named clinical functions that rule files refer to by name (see :mod:`.registry`)."""

from screener.clinical.registry import FUNCTIONS, ClinicalFunction, call

__all__ = ["FUNCTIONS", "ClinicalFunction", "call"]
