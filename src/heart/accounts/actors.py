"""Who is acting: a signed-in person, an API client or the system itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Actor:
    label: str  # "user:<username>", "api:<client>", "system"
    user: Any = None  # a django User or None
    api_client: Any = None

    @property
    def source_key(self) -> str:
        """Whose calls this actor delivers: the scope of a CAD incident id (an API
        client's ids, a person's own, the system's). Stable across renames."""
        if self.api_client is not None:
            return f"client:{self.api_client.pk}"
        if self.user is not None:
            return f"user:{self.user.pk}"
        return self.label[:60]

    @classmethod
    def for_user(cls, user) -> Actor:
        return cls(f"user:{user.get_username()}", user=user)

    @classmethod
    def for_client(cls, client) -> Actor:
        return cls(f"api:{client.name}", api_client=client)


SYSTEM = Actor("system")
