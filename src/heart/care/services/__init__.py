"""Writes for care navigation. Keyword-only, one transaction each; every change to a
person record appends a PersonAudit row in the same transaction.

Bad input raises heart.errors.Invalid naming the field before anything is
written; a state that forbids the change raises Conflict.

One module per concern; callers use this package (``from heart.care import services``):
validation (field checks and lookups), people, encounters (and the hooks care.handlers
runs for dispatch's events), merges, tasks (follow-ups), referrals (providers too), privacy (export,
erasure).
"""

from heart.care.config import rules
from heart.care.services.encounters import (
    follow_up_contacts,
    link_encounter,
    record_consent,
    record_encounter_from_ccd_outcome,
    record_encounter_from_disposition,
)
from heart.care.services.merges import merge_people, unmerge_people
from heart.care.services.people import create_person, update_person
from heart.care.services.privacy import erase_person, export_person
from heart.care.services.referrals import (
    SERVICE_CODES,
    create_provider,
    create_referral,
    set_provider_active,
    set_referral_status,
    update_provider,
)
from heart.care.services.tasks import log_attempt, release_task, take_task
from heart.care.services.validation import parse_date_of_birth

__all__ = [
    "SERVICE_CODES",
    "create_person",
    "create_provider",
    "create_referral",
    "erase_person",
    "export_person",
    "follow_up_contacts",
    "link_encounter",
    "log_attempt",
    "merge_people",
    "parse_date_of_birth",
    "record_consent",
    "record_encounter_from_ccd_outcome",
    "record_encounter_from_disposition",
    "release_task",
    "rules",
    "set_provider_active",
    "set_referral_status",
    "update_provider",
    "take_task",
    "unmerge_people",
    "update_person",
]
