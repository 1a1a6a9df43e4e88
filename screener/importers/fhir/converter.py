"""One patient's FHIR resources -> a :class:`PatientRecord`: dispatch by resource type."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from screener.importers.contraception import ContraceptionContext
from screener.importers.core import ImportLog, NativeBuilder, Origin, PatientRecord
from screener.importers.fhir.administrative import read_consent, read_coverage, read_research_subject
from screener.importers.fhir.conditions import read_condition
from screener.importers.fhir.devices import read_device_use
from screener.importers.fhir.medications import (
    Administrations,
    add_administrations,
    read_administration,
    read_medication,
)
from screener.importers.fhir.observations import read_observation
from screener.importers.fhir.outcomes import OutcomeContext
from screener.importers.fhir.oxygen import OxygenContext
from screener.importers.fhir.patient import read_patient
from screener.importers.fhir.procedures import read_procedure
from screener.importers.fhir.questionnaires import read_questionnaire_response
from screener.importers.fhir.statements import read_list, read_patient_contacts, read_related_person
from screener.importers.mapping import Mapping
from screener.importers.record_lists import RecordLists
from screener.importers.statements import StatementContext

# Resource types a patient's facts are read from (others are counted as "not used").
USED = {
    "Patient",
    "Observation",
    "Condition",
    "MedicationStatement",
    "MedicationRequest",
    "MedicationAdministration",
    "Procedure",
    "Consent",
    "Coverage",
    "ResearchSubject",
    "AllergyIntolerance",
    "AdverseEvent",
    "RelatedPerson",
    "List",
    "QuestionnaireResponse",
    "DeviceUseStatement",
}


class FhirConverter:
    """Turns one patient's FHIR resources into a :class:`PatientRecord`."""

    def __init__(
        self, mapping: Mapping, log: ImportLog, organizations: dict[str, dict[str, Any]] | None = None
    ) -> None:
        self.mapping = mapping
        self.log = log
        # by id: Organizations (Coverage payors) and Devices (DeviceUseStatement), looked up by reference
        self.organizations = organizations if organizations is not None else {}
        self.oxygen = OxygenContext()  # one patient's inhaled-oxygen observations (reset per patient)
        self.contraception = ContraceptionContext()  # one patient's contraceptive events (reset per patient)
        self.statements = StatementContext()  # one patient's E14 / E16 / I2 statements (reset per patient)
        self.lists = RecordLists()  # one patient's records no criterion reads (reset per patient)

    def convert(
        self,
        patient: dict[str, Any],
        patient_origin: Origin,
        resources: Iterable[tuple[dict[str, Any], Origin]],
        medications: dict[str, dict[str, Any]],
    ) -> PatientRecord | None:
        pid = str(patient.get("id") or patient_origin.field or "unknown")
        b = NativeBuilder(pid, patient_origin.file)
        read_patient(b, patient, patient_origin)
        admins: dict[tuple[Any, ...], Administrations] = {}
        self.oxygen = OxygenContext()
        self.contraception = ContraceptionContext()
        self.statements = StatementContext()
        self.lists = RecordLists()
        read_patient_contacts(self, b, patient, patient_origin)
        outcomes = OutcomeContext()
        for resource, origin in resources:
            kind = resource.get("resourceType")
            try:
                if kind == "Observation":
                    read_observation(self, b, resource, origin)
                elif kind == "Condition":
                    read_condition(self, b, resource, origin)
                elif kind in ("MedicationStatement", "MedicationRequest"):
                    read_medication(self, b, resource, origin, medications)
                elif kind == "MedicationAdministration":
                    read_administration(self, b, resource, origin, medications, admins)
                elif kind == "Procedure":
                    read_procedure(self, b, resource, origin)
                elif kind == "Consent":
                    read_consent(self, b, resource, origin)
                elif kind == "Coverage":
                    read_coverage(self, b, resource, origin)
                elif kind == "ResearchSubject":
                    read_research_subject(self, b, resource, origin)
                elif kind == "RelatedPerson":
                    read_related_person(self, b, resource, origin)
                elif kind == "List":
                    read_list(self, b, resource, origin)
                elif kind == "DeviceUseStatement":
                    read_device_use(self, b, resource, origin)
                elif kind == "QuestionnaireResponse":
                    read_questionnaire_response(self, b, resource, origin)
                elif kind == "AllergyIntolerance":
                    outcomes.allergy(self, b, resource, origin)
                elif kind == "AdverseEvent":
                    outcomes.adverse_event(self, b, resource, origin, medications)
                else:
                    self.log.skip(str(kind))
            except (KeyError, TypeError, AttributeError, ValueError) as error:
                b.problem(origin, f"malformed {kind}: {error!r}; not imported")
        add_administrations(b, admins)
        outcomes.settle(b)
        self.oxygen.settle()
        self.contraception.settle(b, self.log)
        self.statements.settle(b, self.log)
        self.lists.settle(b)
        return b.finish(self.log)
