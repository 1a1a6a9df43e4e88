"""Terminologies: code hierarchies and product names, one module per job.

- :mod:`~screener.terminology.icd10`: ICD-10 / ICD-10-CM blocks, categories and subcodes;
- :mod:`~screener.terminology.rxnorm`: RxNorm product -> ingredient, strength, route (release
  files or normalised names);
- :mod:`~screener.terminology.snomed`: SNOMED CT is-a ancestors from an RF2 relationship snapshot;
- :mod:`~screener.terminology.omop_vocab`: OMOP vocabulary tables (CONCEPT, CONCEPT_ANCESTOR,
  CONCEPT_RELATIONSHIP "Maps to", DRUG_STRENGTH);
- :mod:`~screener.terminology.local`: the local terminology directory a user points screener at.

Large or licensed terminologies are never bundled: the user points screener at them
(``--terminology DIR`` or ``SCREENER_TERMINOLOGY``).
"""
