"""The service's settings come from the environment through the flows' one integer reader:
unset means the default, anything else out of range fails with one line saying what to set."""

from __future__ import annotations

import pytest

from flows.settings import SettingsError
from service.settings import ServiceSettings, load_service_settings


def test_unset_and_empty_settings_take_the_defaults() -> None:
    settings = load_service_settings({"ANALYTICS_TRACK_WRITERS": " "})
    defaults = ServiceSettings()
    assert (settings.writers, settings.batch_wait_ms, settings.read_pool_size) == (
        defaults.writers,
        defaults.batch_wait_ms,
        defaults.read_pool_size,
    )


def test_set_settings_are_read() -> None:
    settings = load_service_settings({"ANALYTICS_TRACK_WRITERS": "5", "ANALYTICS_TRACK_BATCH_WAIT_MS": "0"})
    assert (settings.writers, settings.batch_wait_ms) == (5, 0)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "ANALYTICS_TRACK_WRITERS=0 is below 1; set it to e.g. 2"),
        ("two", "ANALYTICS_TRACK_WRITERS='two' is not a whole number; set it to e.g. 2"),
    ],
)
def test_bad_settings_say_what_to_set(value: str, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_service_settings({"ANALYTICS_TRACK_WRITERS": value})
    assert str(caught.value) == message
