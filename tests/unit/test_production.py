"""The production switch's own rules (heart.web.production): plain functions, no Django."""

from __future__ import annotations

import os
import stat

from heart.web.production import development_secret_key, problems

GOOD = {
    "HEART_SECRET_KEY": "k" * 40 + "abcdefghijklmnop",
    "HEART_ALLOWED_HOSTS": "heart.example.org",
}


def test_good_settings_have_no_problems():
    assert problems(GOOD) == []


def test_each_problem_is_named():
    cases = {
        "HEART_SECRET_KEY: not set": {**GOOD, "HEART_SECRET_KEY": ""},
        "HEART_SECRET_KEY: a published default": {
            **GOOD,
            "HEART_SECRET_KEY": "dev-only-not-secret-set-HEART_SECRET_KEY",
        },
        "HEART_SECRET_KEY: 20 characters": {**GOOD, "HEART_SECRET_KEY": "x1" * 10},
        "HEART_ALLOWED_HOSTS: required": {**GOOD, "HEART_ALLOWED_HOSTS": " , "},
        "HEART_ALLOWED_HOSTS: '*'": {**GOOD, "HEART_ALLOWED_HOSTS": "*"},
        "HEART_DEBUG: must be off": {**GOOD, "HEART_DEBUG": "1"},
    }
    for expected, env in cases.items():
        found = problems(env)
        assert len(found) == 1 and found[0].startswith(expected), (expected, found)
    assert len(problems({})) == 2  # key and hosts, listed together


def test_a_development_install_makes_its_own_key_once(tmp_path):
    key = development_secret_key(tmp_path / "var")
    assert len(key) >= 50 and development_secret_key(tmp_path / "var") == key
    mode = stat.S_IMODE(os.stat(tmp_path / "var" / "secret_key").st_mode)
    assert mode == 0o600
    assert development_secret_key(tmp_path / "other") != key
