"""What the production switch (``HEART_PRODUCTION=1``) insists on before the service starts.

Plain functions over the environment, no Django: settings.py calls :func:`problems`
and refuses to load with every problem listed at once (``heart serve`` prints them and
exits), so an operator fixes the configuration in one go instead of one error per start.
The secret key of a development install is made by :func:`development_secret_key`.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path

MIN_SECRET_KEY_CHARS = 50
# keys that were ever published (docs, examples, old defaults): never accepted in production
KNOWN_KEYS = frozenset(
    {
        "dev-only-not-secret-set-HEART_SECRET_KEY",
        "change-me",
        "changeme",
        "secret",
    }
)


def flag(environ: Mapping[str, str], name: str, default: bool = False) -> bool:
    """A 0/1 environment switch (also true/false, yes/no)."""
    value = environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def problems(environ: Mapping[str, str]) -> list[str]:
    """Why these settings must not run in production (empty: they may)."""
    out = []
    if flag(environ, "HEART_DEBUG"):
        out.append("HEART_DEBUG: must be off (0) in production (debug pages show settings)")
    key = environ.get("HEART_SECRET_KEY", "")
    if not key:
        out.append(
            "HEART_SECRET_KEY: not set. Set a random key of at least "
            f"{MIN_SECRET_KEY_CHARS} characters, e.g. "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(64))'"
        )
    elif key in KNOWN_KEYS or key.startswith(("django-insecure", "dev-only")):
        out.append("HEART_SECRET_KEY: a published default key; set a random one of your own")
    elif len(key) < MIN_SECRET_KEY_CHARS or len(set(key)) < 5:
        out.append(
            f"HEART_SECRET_KEY: {len(key)} characters; at least {MIN_SECRET_KEY_CHARS} "
            "random characters are required"
        )
    hosts = [h for h in environ.get("HEART_ALLOWED_HOSTS", "").split(",") if h.strip()]
    if not hosts:
        out.append(
            "HEART_ALLOWED_HOSTS: required in production, the host names the service "
            "answers to (comma-separated, e.g. heart.example.org)"
        )
    elif "*" in (h.strip() for h in hosts):
        out.append("HEART_ALLOWED_HOSTS: '*' is not allowed in production; name the hosts")
    return out


def development_secret_key(data_dir: Path) -> str:
    """A random key made once per development install and kept in DATA_DIR/secret_key
    (mode 600), so no install runs with a key anyone can read in the source."""
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(64)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process is making it: use theirs once written
        for _ in range(100):
            key = path.read_text().strip()
            if key:
                return key
            time.sleep(0.02)
        raise RuntimeError(f"{path}: empty; delete it and start again") from None
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key
