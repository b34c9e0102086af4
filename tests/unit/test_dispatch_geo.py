"""Travel time: the scalar and array versions agree (live uses one, planning the other)."""

import numpy as np

from heart.domain.geo import TravelModel, haversine_km, haversine_km_array


def test_scalar_and_array_haversine_agree():
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(-79.1, -78.7, 200), rng.uniform(35.8, 36.2, 200)
    arr = haversine_km_array(lon, lat, -78.9, 36.0)
    for i in range(200):
        assert abs(haversine_km(lon[i], lat[i], -78.9, 36.0) - arr[i]) < 1e-9
    model = TravelModel()
    assert (
        abs(
            model.minutes(lon[0], lat[0], -78.9, 36.0)
            - model.minutes_array(lon[:1], lat[:1], -78.9, 36.0)[0]
        )
        < 1e-9
    )


def test_durham_downtown_to_duke_is_a_few_minutes():
    minutes = TravelModel().minutes(-78.8986, 35.9940, -78.9382, 36.0014)  # ~3.6 km
    assert 7 < minutes < 10
