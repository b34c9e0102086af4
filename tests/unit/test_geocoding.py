"""The geocoder interface (heart.geocoding): an address-point file (CSV or GeoJSON), a
Nominatim server and a Pelias server (both stood up here on a local port), and a
configuration that names the key it does not like."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from heart.geocoding import (
    AddressFile,
    GeocodeError,
    GeocoderConfigError,
    Match,
    Nominatim,
    Pelias,
    geocoder_from_config,
)


@pytest.fixture
def points_csv(tmp_path):
    path = tmp_path / "address_points.csv"
    path.write_text(
        "FULL_ADDRESS,X,Y\n"
        "101 City Hall Plaza,-78.8986,35.9940\n"
        "2200 West Main Street,-78.9253,36.0064\n"
        "broken row,not-a-number,35.9\n"
        "9 Nowhere Road,-200,35.9\n"  # outside the world: skipped
        ",-78.9,35.9\n"
    )
    return path


def test_address_file_csv_exact_and_close_spellings(points_csv):
    g = AddressFile.load(points_csv, address_column="FULL_ADDRESS", lon_column="X", lat_column="Y")
    exact = g.search("101 city hall plaza")
    assert exact == [Match(-78.8986, 35.994, "101 City Hall Plaza", 1.0, g.name)]
    # USPS abbreviations and punctuation are normalised before matching
    assert g.search("2200 W. Main St")[0].label == "2200 West Main Street"
    close = g.search("2200 West Mian Street")
    assert close and close[0].label == "2200 West Main Street" and close[0].score < 1
    assert g.search("99 Elsewhere Avenue") == []
    assert g.search("   ") == []


def test_address_file_geojson(tmp_path):
    path = tmp_path / "points.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"addr": "5 Pine Ct"},
                        "geometry": {"type": "Point", "coordinates": [-78.9, 36.0]},
                    },
                    {
                        "type": "Feature",
                        "properties": {"addr": "an area"},
                        "geometry": {"type": "Polygon", "coordinates": []},
                    },
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": {"type": "Point", "coordinates": [-78.9, 36.0]},
                    },
                ],
            }
        )
    )
    g = geocoder_from_config({"kind": "file", "path": str(path), "address_property": "addr"})
    assert [m.label for m in g.search("5 pine court")] == ["5 Pine Ct"]


@pytest.mark.parametrize(
    "config, key",
    [
        ({"kind": "google"}, "kind"),
        ({"kind": "file"}, "path"),
        ({"kind": "file", "path": "/nope.csv"}, "path"),
        ({"kind": "nominatim", "url": "ftp://x"}, "url"),
        ({"kind": "nominatim", "url": "http://x"}, "user_agent"),
        ({"kind": "pelias", "url": "http://x", "colour": "red"}, "colour"),
        ({"kind": "pelias", "url": "http://x", "timeout": 0}, "timeout"),
        ({"kind": "pelias", "url": "http://x", "boundary_rect": "1,2"}, "boundary_rect"),
    ],
)
def test_bad_configuration_names_the_key(config, key):
    with pytest.raises(GeocoderConfigError, match=key):
        geocoder_from_config(config)


def test_no_configuration_means_coordinates_only():
    assert geocoder_from_config(None) is None and geocoder_from_config({}) is None


def test_a_csv_without_the_columns_is_refused(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("street,lon,lat\n1 A St,-78,36\n")
    with pytest.raises(GeocoderConfigError, match="no column 'address'"):
        AddressFile.load(path)


class _Server:
    """A local HTTP server answering as Nominatim or Pelias would; it records queries."""

    def __init__(self, reply):
        seen = self.seen = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server API
                url = urlsplit(self.path)
                seen.append((url.path, parse_qs(url.query), self.headers.get("User-Agent")))
                status, body = reply(url.path, parse_qs(url.query))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args):  # addresses are never logged, not even here
                pass

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_nominatim():
    def reply(path, query):
        return 200, json.dumps(
            [
                {
                    "lat": "35.9940",
                    "lon": "-78.8986",
                    "display_name": "101, City Hall Plaza, Durham",
                    "importance": 0.61,
                },
                {"lat": "bad", "lon": "-78", "display_name": "x"},
            ]
        )

    with _Server(reply) as server:
        g = geocoder_from_config(
            {
                "kind": "nominatim",
                "url": server.url,
                "user_agent": "HEART test",
                "countrycodes": "us",
                "viewbox": "-79.1,35.8,-78.7,36.2",
            }
        )
        assert isinstance(g, Nominatim)
        found = g.search("101 City Hall Plaza", limit=3)
        assert found == [Match(-78.8986, 35.994, "101, City Hall Plaza, Durham", 0.61, g.name)]
        path, query, agent = server.seen[0]
        assert (
            path == "/search" and query["format"] == ["jsonv2"] and query["countrycodes"] == ["us"]
        )
        assert query["bounded"] == ["1"] and agent == "HEART test"


def test_pelias():
    def reply(path, query):
        return 200, json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [-78.8986, 35.994]},
                        "properties": {
                            "label": "101 City Hall Plaza, Durham, NC",
                            "confidence": 0.9,
                        },
                    },
                ],
            }
        )

    with _Server(reply) as server:
        g = geocoder_from_config({"kind": "pelias", "url": server.url, "boundary_country": "USA"})
        assert isinstance(g, Pelias)
        assert g.search("101 City Hall Plaza")[0].label == "101 City Hall Plaza, Durham, NC"
        path, query, _ = server.seen[0]
        assert path == "/v1/search" and query["boundary.country"] == ["USA"]


def test_a_server_that_fails_raises_geocode_error():
    with _Server(lambda p, q: (500, "oops")) as server:
        g = Pelias(server.url, timeout=1)
        with pytest.raises(GeocodeError):
            g.search("1 A St")
    with _Server(lambda p, q: (200, '{"not": "a list"}')) as server, pytest.raises(GeocodeError):
        Nominatim(server.url, user_agent="t", timeout=1).search("1 A St")
    with pytest.raises(GeocodeError):  # nothing listens there
        Pelias("http://127.0.0.1:9", timeout=0.5).search("1 A St")
