"""Fast path: the same YAML rules as one DuckDB query over flattened prepared facts.

:mod:`screener.vectorized.flatten` turns each patient's prepared facts (from
:func:`screener.facts.prepare`, the one place that decides which value counts)
into rows of three tables, computing derived values with the same named
clinical functions the engine calls; :mod:`screener.vectorized.sql` compiles
the rule set to SQL whose NULL is the engine's *unknown* (SQL's AND/OR/NOT are
Kleene's). Only outcomes per criterion come out: explanations, missing facts
and eligible-from dates stay with the engine.
"""

from screener.vectorized.screen import VectorizedScreener

__all__ = ["VectorizedScreener"]
