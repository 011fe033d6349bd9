"""Settings from the environment: POLICY_ names that are no setting are found, with a hint."""

from __future__ import annotations

from policy_service.config import Settings


def test_a_misspelt_setting_is_found_with_the_setting_it_may_have_meant() -> None:
    env = {"POLICY_STATE_ULR": "redis://127.0.0.1:6379/0", "POLICY_WORKER": "2"}
    assert Settings.unknown_names(env) == [
        "POLICY_STATE_ULR (did you mean POLICY_STATE_URL?)",
        "POLICY_WORKER (did you mean POLICY_WORKERS?)",
    ]


def test_a_name_like_no_setting_is_found_without_a_hint() -> None:
    assert Settings.unknown_names({"POLICY_ZZZ": "1"}) == ["POLICY_ZZZ"]


def test_settings_build_and_test_names_and_other_variables_are_not_reported() -> None:
    env = {
        "POLICY_STATE_URL": "memory://",
        "POLICY_RATE_LIMIT_ACCOUNT": "10",
        "POLICY_PURE_PYTHON": "1",
        "POLICY_SHARED_DATA": "/data",
        "POLICY_TEST_REDIS_URL": "redis://127.0.0.1:7000/0",
        "POLICY_TEST_CONTAINER_INSTALL": "1",
        "PATH": "/usr/bin",
        "MY_POLICY_THING": "x",
    }
    assert Settings.unknown_names(env) == []


def test_a_negative_reply_poll_count_is_refused_with_what_it_may_be() -> None:
    import pytest

    from policy_service.errors import ConfigError

    assert Settings.from_env({"POLICY_REDIS_REPLY_POLLS": "0"}).redis_reply_polls == 0
    with pytest.raises(ConfigError, match="POLICY_REDIS_REPLY_POLLS must be 0 \\(off\\) or more"):
        Settings.from_env({"POLICY_REDIS_REPLY_POLLS": "-5"})
