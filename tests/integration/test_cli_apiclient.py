"""`heart apiclient create|list|revoke`: prints the token once, stores only its hash."""

from __future__ import annotations

import pytest

from heart.accounts.models import ApiClient
from heart.accounts.services import clear_token_cache, client_for_token, hash_token
from heart.cli import main

pytestmark = pytest.mark.django_db


def test_create_list_revoke(capsys):
    assert main(["apiclient", "create", "cad-main", "--scope", "intake", "--scope", "avl"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert token.startswith("heart_") and len(token) > 40
    client = ApiClient.objects.get(name="cad-main")
    assert client.token_hash == hash_token(token) and token not in str(client.__dict__)
    assert sorted(client.scopes) == ["avl", "intake"]
    clear_token_cache()
    assert client_for_token(token).pk == client.pk

    assert main(["apiclient", "create", "cad-main"]) == 2  # duplicate name
    assert main(["apiclient", "list"]) == 0
    listing = capsys.readouterr().out
    assert "cad-main" in listing and token not in listing

    assert main(["apiclient", "revoke", "cad-main"]) == 0
    clear_token_cache()
    assert client_for_token(token) is None
    assert main(["apiclient", "revoke", "nobody"]) == 2


def test_revoke_goes_through_the_service_and_is_audited():
    from heart.accounts.models import AuditEntry

    assert main(["apiclient", "create", "cad-old"]) == 0
    client = ApiClient.objects.get(name="cad-old")
    assert main(["apiclient", "revoke", "cad-old"]) == 0
    entry = AuditEntry.objects.get(action="apiclient.revoke", object_id=str(client.pk))
    assert entry.actor_label == "cli"
    assert main(["apiclient", "revoke", "cad-old"]) == 0  # again: nothing more to write
    assert AuditEntry.objects.filter(action="apiclient.revoke").count() == 1
