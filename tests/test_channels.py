from __future__ import annotations

import pytest

from zcomet.core.channels import Pattern, channel_from_topic, check_channel, topic_for
from zcomet.errors import ChannelError


@pytest.mark.parametrize("name", ["alerts", "helpdesk.escalation", "a-b_c.D9"])
def test_valid_channel_names_are_accepted(name: str) -> None:
    assert check_channel(name) == name
    assert channel_from_topic(topic_for(name)) == name


@pytest.mark.parametrize(
    "name", ["", "a..b", ".a", "a.", "a b", "a.*", "a.>", "é" * 200, "a\x00b"]
)
def test_invalid_channel_names_raise_channel_error(name: str) -> None:
    with pytest.raises(ChannelError):
        check_channel(name)


def test_topic_frame_is_the_name_and_a_nul_byte() -> None:
    assert topic_for("alerts") == b"alerts\x00"


def test_an_exact_subscription_prefix_never_matches_a_longer_channel() -> None:
    prefix = Pattern("alerts").prefix
    assert topic_for("alerts").startswith(prefix)
    assert not topic_for("alerts-high").startswith(prefix)
    assert not topic_for("alerts.high").startswith(prefix)


@pytest.mark.parametrize(
    ("pattern", "channel", "expected"),
    [
        ("alerts", "alerts", True),
        ("alerts", "alerts-high", False),
        ("alerts.*", "alerts.high", True),
        ("alerts.*", "alerts", False),
        ("alerts.*", "alerts.high.disk", False),
        ("alerts.>", "alerts.high", True),
        ("alerts.>", "alerts.high.disk", True),
        ("alerts.>", "alerts", False),
        ("*.high", "alerts.high", True),
        ("*.high", "alerts.low", False),
        ("a.*.c", "a.b.c", True),
        ("a.*.c", "a.b.d", False),
        (">", "anything.at.all", True),
    ],
)
def test_pattern_matching_is_token_by_token(
    pattern: str, channel: str, expected: bool
) -> None:
    compiled = Pattern(pattern)
    assert compiled.matches(channel) is expected
    if expected:
        assert topic_for(channel).startswith(compiled.prefix)


@pytest.mark.parametrize("pattern", ["", "a.>.b", "a..b", "a b", "a.*x"])
def test_malformed_patterns_raise_channel_error(pattern: str) -> None:
    with pytest.raises(ChannelError):
        Pattern(pattern)


def test_a_topic_without_terminator_is_refused() -> None:
    with pytest.raises(ChannelError):
        channel_from_topic(b"alerts")
