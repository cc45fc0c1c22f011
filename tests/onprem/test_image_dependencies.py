"""The image installs onprem/requirements.txt only: the package may import nothing else (no Docker here to build)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ONPREM = PROJECT_ROOT / "onprem"
# Import names of the distributions in onprem/requirements.txt.
IMPORT_NAME = {"confluent-kafka": "confluent_kafka", "python-dateutil": "dateutil"}


def _pins(path: Path) -> dict[str, str]:
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return dict(line.split("==") for line in lines if line)


def test_the_package_imports_only_the_standard_library_itself_and_its_pinned_requirements() -> None:
    # Given every module the onprem package imports
    imported = set()
    for source in ONPREM.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])

    # Then each is the standard library, onprem itself, or pinned in onprem/requirements.txt
    allowed = {IMPORT_NAME.get(name, name.replace("-", "_")) for name in _pins(ONPREM / "requirements.txt")}
    outside = {name for name in imported if name not in sys.stdlib_module_names and name not in allowed | {"onprem"}}
    assert outside == set()


def test_the_image_pins_the_same_versions_the_tests_run() -> None:
    # Then every pin of the image equals the project's full pinned closure
    constraints = {name.lower(): version for name, version in _pins(PROJECT_ROOT / "constraints.txt").items()}
    assert {name: constraints.get(name.lower()) for name in _pins(ONPREM / "requirements.txt")} == _pins(
        ONPREM / "requirements.txt"
    )


def test_the_dockerfile_runs_as_a_non_root_user_with_a_health_check() -> None:
    dockerfile = (ONPREM / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert "\nUSER 10001\n" in dockerfile and "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile
    assert "-r /app/onprem/requirements.txt" in dockerfile
