"""All models, imported so that metadata is complete for migrations."""

from .accountability import ACCOUNTABILITY_STATES, AccountabilityCase
from .audit import AuditChainHead, AuditEvent
from .base import PERSONAL_DATA, personal_columns
from .case import (
    CASE_STATES,
    CIRCUMSTANCES,
    EXECUTION_OUTCOMES,
    PARTY_KINDS,
    SERVICE_METHODS,
    CaseTransition,
    CaseViolation,
    EnforcementCase,
    ViolationDecline,
)
from .draw import (
    ASSIGNMENT_STATUSES,
    DRAW_STATUSES,
    Assignment,
    AssignmentMember,
    AssignmentTransition,
    Draw,
    DrawPolicy,
)
from .document import Document, DocumentCounter
from .evidence import EvidenceFile, Upload
from .inspection import (
    FINDING_SOURCES,
    INSPECTION_STATUSES,
    NOTE_KINDS,
    PENALTY_TYPES,
    Amendment,
    ExampleNote,
    Finding,
    Inspection,
    Observation,
    Penalty,
    Photo,
    SyncChange,
    SyncOperation,
    Violation,
)
from .material import (
    BULLETIN_STATES,
    MATERIAL_KINDS,
    MATERIAL_SOURCES,
    MATERIAL_STATES,
    VENUE_DISPLAYS,
    Bulletin,
    BulletinItem,
    MaterialItem,
    MaterialPhoto,
)
from .rectification import LINK_KINDS, ORDER_STATES, RectificationOrder, RectificationOrderViolation
from .reference import (
    ChecklistItem,
    County,
    Department,
    DiscretionBenchmark,
    Duty,
    HearingThreshold,
    LegalBasis,
    ReferenceDataset,
    RosterMember,
    Rule,
    RuleCheck,
    VenueCategory,
)
from .user import ROLE_LABELS, ROLES, DeviceToken, User
from .venue import Venue

__all__ = [
    "ASSIGNMENT_STATUSES", "Assignment", "AssignmentMember", "AssignmentTransition", "DRAW_STATUSES", "Draw",
    "DrawPolicy", "AuditChainHead", "AuditEvent", "ChecklistItem", "County", "Department", "DeviceToken",
    "DiscretionBenchmark", "Document", "DocumentCounter", "Duty", "EvidenceFile", "HearingThreshold", "LegalBasis",
    "PERSONAL_DATA", "ROLES", "ROLE_LABELS",
    "ReferenceDataset", "RosterMember", "Rule", "RuleCheck", "Upload", "User", "Venue", "VenueCategory",
    "personal_columns", "Amendment", "ExampleNote", "FINDING_SOURCES", "Finding", "INSPECTION_STATUSES", "Inspection",
    "NOTE_KINDS", "Observation", "PENALTY_TYPES", "Penalty", "Photo", "SyncChange", "SyncOperation", "Violation",
    "CASE_STATES", "CIRCUMSTANCES", "EXECUTION_OUTCOMES", "PARTY_KINDS", "SERVICE_METHODS", "CaseTransition",
    "CaseViolation", "EnforcementCase", "ViolationDecline", "LINK_KINDS", "ORDER_STATES", "RectificationOrder",
    "RectificationOrderViolation", "ACCOUNTABILITY_STATES", "AccountabilityCase",
    "BULLETIN_STATES", "MATERIAL_KINDS", "MATERIAL_SOURCES", "MATERIAL_STATES", "VENUE_DISPLAYS", "Bulletin",
    "BulletinItem", "MaterialItem", "MaterialPhoto",
]
