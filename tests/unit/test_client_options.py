"""The hook hands the client the connection's ClientOptions where the Google provider builds them."""

from __future__ import annotations

import pytest
from airflow.providers.google.common.hooks.base_google import GoogleBaseHook

from airflow_batchstream.hooks.batch import BatchStreamHook


@pytest.fixture(autouse=True)
def connection(monkeypatch, allow_google_calls):
    # A hook without an emulator, as against Google; nothing here makes a call.
    monkeypatch.setenv("AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT", '{"conn_type": "google_cloud_platform"}')


@pytest.mark.skipif(
    not hasattr(GoogleBaseHook, "get_client_options"),
    reason="this apache-airflow-providers-google predates GoogleBaseHook.get_client_options (22.0.0)",
)
def test_options_come_from_the_google_provider(monkeypatch):
    monkeypatch.setenv("GOOGLE_CLOUD_UNIVERSE_DOMAIN", "example-universe.goog")
    assert BatchStreamHook().client_options().universe_domain == "example-universe.goog"


def test_an_older_google_provider_gives_none_the_default_universe(monkeypatch):
    monkeypatch.delattr(GoogleBaseHook, "get_client_options", raising=False)
    assert BatchStreamHook().client_options() is None
