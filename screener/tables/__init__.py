"""Columnar registries: validated patients stored as Parquet tables, one row per record.

A registry converted once (``screener convert --to tables``) can be screened at any
date, against any rule set, by :mod:`screener.vectorized` without going back through
Python patient by patient: which value counts at the screening date is then chosen
in SQL. The table layout is :data:`screener.tables.layout.TABLES`.
"""
