"""Outputs other tools take: provenance of every row and document, OMOP cohorts, FHIR resources.

Views only: every module here reads finished screening rows or results and never judges
eligibility itself.
"""
