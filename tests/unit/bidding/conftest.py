"""Fixtures for the sealed-bid tests (the world itself is in ``bidworld``)."""

from __future__ import annotations

import pytest
from bidworld import SUITES, World, make_world


@pytest.fixture(scope="module", params=SUITES)
def world(request: pytest.FixtureRequest) -> World:
    return make_world(request.param)
