"""FHIR R4 importer: Bundle JSON files and Bulk Data NDJSON (one resource per line).

Resources read: Patient, Observation (and its components), Condition, MedicationStatement,
MedicationRequest, MedicationAdministration (``medicationCodeableConcept``, or a contained or
referenced Medication, including its ingredients), Procedure (codes counted; no fact uses them
yet), Consent, Coverage and ResearchSubject. Any other resource type is counted as "not used".
Each fact keeps ``source: "<ResourceType>/<id>"``. Quantities keep their UCUM code
(``valueQuantity.code``) and the patient loader converts them.

One module per job:

- :mod:`.read`: files (Bundle JSON, NDJSON), grouping resources by patient;
- :mod:`.converter`: one patient's resources -> a native record, dispatching by type to
  :mod:`.patient`, :mod:`.observations`, :mod:`.conditions`, :mod:`.medications` and
  :mod:`.administrative`;
- :mod:`.status`: which records count, by their status (every record set aside is counted in
  the import report under its reason);
- :mod:`.common`: codings, references, texts and dates.
"""

from __future__ import annotations

from screener.importers.fhir.common import patient_ref
from screener.importers.fhir.converter import FhirConverter
from screener.importers.fhir.medications import frequency_of, route_of
from screener.importers.fhir.patient import BIRTHSEX_URL
from screener.importers.fhir.read import iter_bundles, iter_ndjson, split_bundle_to_ndjson

__all__ = [
    "BIRTHSEX_URL",
    "FhirConverter",
    "frequency_of",
    "iter_bundles",
    "iter_ndjson",
    "patient_ref",
    "route_of",
    "split_bundle_to_ndjson",
]
