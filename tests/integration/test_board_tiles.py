"""The board's base map for an offline center: the app serves raster tiles from a folder
(z/x/y.png) or an MBTiles file; nothing configured, no base map (issue 13, item 2)."""

from __future__ import annotations

import json
import sqlite3

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"tile"


def _config(client) -> dict:
    html = client.get("/board/").content.decode()
    raw = html.split('id="board-config" type="application/json">', 1)[1].split("</script>", 1)[0]
    return json.loads(raw)


@pytest.fixture
def dispatcher(person):
    c = Client()
    c.force_login(person("dispatcher"))
    return c


def test_no_tiles_configured_no_base_map(dispatcher, settings):
    settings.HEART_MAP_TILES = ""
    settings.HEART_MAP_TILES_DIR = ""
    settings.HEART_MAP_MBTILES = ""
    assert _config(dispatcher)["tiles"] == ""
    assert dispatcher.get("/board/tiles/1/0/0").status_code == 404


def test_a_tile_server_url_is_used_as_given(dispatcher, settings):
    settings.HEART_MAP_TILES = "https://tiles.example.org/{z}/{x}/{y}.png"
    assert _config(dispatcher)["tiles"] == "https://tiles.example.org/{z}/{x}/{y}.png"


def test_tiles_from_a_folder(dispatcher, settings, tmp_path):
    (tmp_path / "3" / "2").mkdir(parents=True)
    (tmp_path / "3" / "2" / "5.png").write_bytes(PNG)
    settings.HEART_MAP_TILES = ""
    settings.HEART_MAP_TILES_DIR = str(tmp_path)
    assert _config(dispatcher)["tiles"] == "/board/tiles/{z}/{x}/{y}"
    r = dispatcher.get("/board/tiles/3/2/5")
    assert r.status_code == 200 and r["Content-Type"] == "image/png" and r.content == PNG
    assert dispatcher.get("/board/tiles/3/2/6").status_code == 404
    assert dispatcher.get("/board/tiles/3/9/5").status_code == 404  # outside the zoom level


def test_tiles_from_an_mbtiles_file(dispatcher, settings, tmp_path):
    path = tmp_path / "durham.mbtiles"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE tiles (zoom_level int, tile_column int, tile_row int, tile_data blob)"
        )
        # MBTiles rows are TMS: row = 2**z - 1 - y
        db.execute("INSERT INTO tiles VALUES (3, 2, 2, ?)", (PNG,))
    settings.HEART_MAP_TILES = ""
    settings.HEART_MAP_TILES_DIR = ""
    settings.HEART_MAP_MBTILES = str(path)
    r = dispatcher.get("/board/tiles/3/2/5")
    assert r.status_code == 200 and r.content == PNG
    assert dispatcher.get("/board/tiles/3/2/2").status_code == 404


def test_tiles_need_a_role_that_sees_the_map(person, settings, tmp_path):
    settings.HEART_MAP_TILES_DIR = str(tmp_path)
    c = Client()
    c.force_login(person("analyst"))
    assert c.get("/board/tiles/0/0/0").status_code == 403
    assert Client().get("/board/tiles/0/0/0").status_code == 302  # sign in first
