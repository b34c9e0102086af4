"""Django admin: the provider directory is editable there, with the API's checks; calls are
view-only; people are not in the admin at all (their reads must be audited)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from heart.care.models import Provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client():
    user = get_user_model().objects.create_superuser("root", "root@example.org", "pw-test-123")
    client = Client()
    client.force_login(user)
    return client


def test_provider_can_be_added_with_checked_fields(admin_client):
    form = {
        "name": "Durham Recovery Response Center",
        "services": ["mental_health", "substance_use"],
        "hours": "24/7",
        "address": "309 Crutchfield St",
        "phone": "919-560-7305",
        "walk_in": "on",
        "languages": "en, es",
        "active": "on",
    }
    bad = admin_client.post("/admin/care/provider/add/", {**form, "languages": "english!"})
    assert bad.status_code == 200 and "is not a language code" in bad.content.decode()
    assert not Provider.objects.exists()
    ok = admin_client.post("/admin/care/provider/add/", form)
    assert ok.status_code == 302
    provider = Provider.objects.get()
    assert provider.services == ["mental_health", "substance_use"]
    assert provider.languages == ["en", "es"]


def test_calls_are_view_only_and_people_absent(admin_client):
    assert admin_client.get("/admin/calls/call/add/").status_code == 403
    assert admin_client.get("/admin/care/person/").status_code == 404
