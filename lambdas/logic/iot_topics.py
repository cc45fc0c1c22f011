"""The MQTT topic hierarchy of the realtime price feed."""

from __future__ import annotations

import re

_FIXTURE_ID = re.compile(r"^[A-Za-z0-9_-]{1,48}$")
MAX_TOPIC_SLASHES = 7  # an AWS IoT Core limit


def price_topic(prefix: str, fixture_id: str) -> str:
    """``{prefix}/{fixture_id}/prices``: one wildcard, ``{prefix}/+/prices``, covers every fixture.

    Raises
    ------
    ValueError
        If the fixture id could inject topic levels or wildcards, or the topic would be too deep for IoT Core.
    """
    if not _FIXTURE_ID.fullmatch(fixture_id):
        raise ValueError(f"fixture_id: {fixture_id!r} may only hold letters, digits, _ and - (1 to 48)")
    topic = f"{prefix}/{fixture_id}/prices"
    if topic.count("/") > MAX_TOPIC_SLASHES:
        raise ValueError(f"topic: {topic!r} has more than {MAX_TOPIC_SLASHES} slashes, which IoT Core rejects")
    return topic


def price_subscription(prefix: str) -> str:
    """The one topic filter a trader's browser subscribes to."""
    return f"{prefix}/+/prices"
