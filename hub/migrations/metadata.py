"""Imports every table module so ``SQLModel.metadata`` knows the whole schema."""
# ruff: noqa: F401

from sqlmodel import SQLModel

import hub.audit.models
import hub.compliance.models
import hub.federation.models
import hub.identity.models
import hub.monitoring.models
import hub.registry.models
import hub.screening.models
import hub.sites.models
import hub.traceability.models
import training_portal.models

metadata = SQLModel.metadata
