"""The live feed's reconnect schedule (web/console/realtime.js ``retryDelayMs``), run in the pinned Node 22."""

from __future__ import annotations

import json

from tests.browser.node import PROJECT_ROOT, run_node

REALTIME_MODULE = PROJECT_ROOT / "web" / "console" / "realtime.js"


def retry_delays_in_node(failures: range, random: float) -> list[float]:
    script = (
        f"import {{ retryDelayMs }} from {json.dumps(REALTIME_MODULE.as_uri())};\n"
        "const [failures, random] = JSON.parse(process.argv[1]);\n"
        "process.stdout.write(JSON.stringify(failures.map((n) => retryDelayMs(n, () => random))));\n"
    )
    return json.loads(run_node(script, json.dumps([list(failures), random])))


def test_retries_wait_from_one_second_doubling_to_thirty_with_the_upper_half_random() -> None:
    # Given the delays before retries 1 to 10, with the least and the most jitter
    # When they are computed
    shortest = retry_delays_in_node(range(10), random=0.0)
    longest = retry_delays_in_node(range(10), random=0.999999)

    # Then the ceiling doubles from 1 s up to 30 s, and each delay lies in the upper half of its ceiling
    ceilings = [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000, 30_000, 30_000]
    assert shortest == [ceiling / 2 for ceiling in ceilings]
    assert [round(delay) for delay in longest] == ceilings
