from __future__ import annotations

import pytest

from tracer_agent.settings import AgentSettings
from tracer_core.settings import SettingsError, load_settings
from tracer_processor.settings import ProcessorSettings


def test_invalid_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACER_PROCESSOR_PORT", "not-a-port")
    with pytest.raises(
        SettingsError, match=r"^invalid settings: TRACER_PROCESSOR_PORT='not-a-port'"
    ):
        load_settings(ProcessorSettings)


def test_an_aliased_setting_is_named_once_not_prefixed_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRACER_AGENT_PORT", "99999")
    with pytest.raises(SettingsError) as raised:
        load_settings(AgentSettings)
    assert str(raised.value).startswith("invalid settings: TRACER_AGENT_PORT='99999'")
    assert "TRACER_TRACER" not in str(raised.value)


def test_out_of_range_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACER_DB_POOL_MAX_SIZE", "0")
    with pytest.raises(SettingsError, match="TRACER_DB_POOL_MAX_SIZE"):
        load_settings(AgentSettings)


def test_shared_variables_keep_their_usual_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://db.example/tracer")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")
    monkeypatch.setenv("TRACER_HOME", "/tmp/tracer-home")
    settings = load_settings(AgentSettings)
    assert settings.database_url == "postgresql://db.example/tracer"
    assert settings.openai_base_url == "http://127.0.0.1:11434/v1"
    assert str(settings.home) == "/tmp/tracer-home"


def test_explicit_overrides_win_and_none_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACER_PROCESSOR_PORT", "5000")
    assert load_settings(ProcessorSettings, port=None).port == 5000
    assert load_settings(ProcessorSettings, port=6000).port == 6000


def test_unrelated_environment_variables_never_feed_a_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # HOME, ROUTING_FILE, ... share a field's name but not its variable.
    monkeypatch.delenv("TRACER_HOME", raising=False)
    monkeypatch.setenv("HOME", "/somewhere/else")
    monkeypatch.setenv("ROUTING_FILE", "/etc/passwd")
    monkeypatch.setenv("PORT", "1")
    settings = load_settings(AgentSettings)
    assert str(settings.home) == ".tracer"
    assert settings.routing_file is None
    assert settings.port == 8000
    assert load_settings(ProcessorSettings, home="/tmp/explicit").home.as_posix() == "/tmp/explicit"
