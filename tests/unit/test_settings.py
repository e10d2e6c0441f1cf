"""Settings: the one place that reads the environment, and refuses bad values early."""

from __future__ import annotations

from pathlib import Path

import pytest

from tenure.config import ConfigError, load_agent_settings, load_settings


def test_device_work_is_checked_when_settings_are_read() -> None:
    """A typo fails at start, whatever starts the server (not only `tenure serve`)."""
    with pytest.raises(ConfigError, match="TENURE_DEVICE_WORK must be 'inline' or 'threads'"):
        load_settings({"TENURE_DEVICE_WORK": "thread"})
    assert load_settings({"TENURE_DEVICE_WORK": "threads"}).device_work == "threads"


def test_every_setting_can_come_from_the_toml_file(tmp_path: Path) -> None:
    """The operator guide promises it; log_format used to be refused as unknown."""
    config = tmp_path / "tenure.toml"
    config.write_text('[tenure]\nlog_format = "json"\nlog_level = "warning"\n')
    settings = load_settings({"TENURE_CONFIG": str(config)})
    assert (settings.log_format, settings.log_level) == ("json", "warning")
    assert load_settings({"TENURE_CONFIG": str(config),
                          "TENURE_LOG_FORMAT": "console"}).log_format == "console"


def test_an_unknown_password_hash_cost_is_refused() -> None:
    with pytest.raises(ConfigError, match="TENURE_PASSWORD_HASH_COST must be 'standard' or"):
        load_settings({"TENURE_PASSWORD_HASH_COST": "cheap"})
    assert load_settings({"TENURE_PASSWORD_HASH_COST": "test"}).password_hash_cost == "test"


def test_an_unknown_log_format_is_refused() -> None:
    with pytest.raises(ConfigError, match="TENURE_LOG_FORMAT"):
        load_settings({"TENURE_LOG_FORMAT": "xml"})


def test_the_device_agent_reads_its_environment_here() -> None:
    agent = load_agent_settings({"TENURE_DEVICE_STATE": "/tmp/phone",
                                 "TENURE_SERVER_URL": "http://tenure.test",
                                 "TENURE_PASSWORD": "pw", "TENURE_CLOCK_OFFSET_FILE": "/c"})
    assert (agent.state, agent.server_url, agent.password, agent.clock_offset_file) == (
        Path("/tmp/phone"), "http://tenure.test", "pw", "/c")
    assert load_agent_settings({}).server_url == "http://127.0.0.1:8080"
