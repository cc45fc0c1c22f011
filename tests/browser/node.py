"""Run a JavaScript ES module snippet in the pinned Node 22 (the `node` package in node_modules/.bin)."""

from __future__ import annotations

import subprocess
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NODE = PROJECT_ROOT / "node_modules" / ".bin" / "node"


def run_node(script: str, *args: str) -> str:
    """Run ``script`` as an ES module, ``args`` as process.argv[1:]; its stdout (raises on a non-zero exit)."""
    completed = subprocess.run(  # noqa: S603 - the pinned node binary and our own modules
        [str(NODE), "--input-type=module", "-e", script, *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return completed.stdout
