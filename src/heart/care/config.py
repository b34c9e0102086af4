"""Care navigation's settings, read from Django settings in this one place.

- ``HEART_CARE``: overrides for :class:`heart.domain.care.CareRules` (validated at use,
  so a test or a deployment that changes the setting is seen by the next call).
- ``HEART_FHIR_SYSTEM``: the prefix of the local FHIR code systems and ids.
- ``TIME_ZONE``: the program's time zone (SLA weeks are weeks on its calendar).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.conf import settings

from heart.domain.care import CareRules


def rules() -> CareRules:
    return CareRules.from_mapping(getattr(settings, "HEART_CARE", None))


def fhir_system() -> str:
    return getattr(settings, "HEART_FHIR_SYSTEM", "urn:heart")


def program_tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)
