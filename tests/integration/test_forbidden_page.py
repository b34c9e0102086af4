"""The friendly 403 page names the roles the one endpoint table allows (every GET page
the table exercises), so the page and the table cannot drift apart."""

from __future__ import annotations

import pytest

from heart.accounts.forbidden import roles_for
from tests.integration import test_care_api
from tests.integration.endpoints import ENDPOINTS, PUBLIC, SIGNED_IN
from tests.integration.test_endpoint_table import EXTRA, key_for


def _get_pages():
    cases = [(m, u) for m, u, _ in EXTRA]
    cases += [(m, u) for _, m, u, *_ in test_care_api.ROWS]
    for method, url in cases:
        if method != "get" or url.startswith("/api/"):
            continue
        allowed = ENDPOINTS[key_for(method, url)]
        if allowed in (PUBLIC, SIGNED_IN):
            continue
        yield url.split("?")[0], allowed


@pytest.mark.parametrize(("url", "allowed"), list(_get_pages()))
def test_the_403_page_names_the_roles_of_the_table(url, allowed):
    path = test_care_api._fill(url, {k: 1 for k in ("task", "person", "call", "encounter")})
    assert set(roles_for(path) or []) == set(allowed), path
