"""Batch pre-screening: many patients from JSONL files or directories, in parallel.

:mod:`screener.batch.inputs` reads records, :mod:`screener.batch.runner` screens
them with one engine per worker and writes rows atomically with checkpoints,
:mod:`screener.batch.summary` counts the attrition funnel.
"""
