"""What gets installed is pinned and above known advisories (issue 17, point 7): both entry points
install from the hash-pinned lock files, and every pinned release is at or above the first fixed
release of the advisories we know of. A lock refreshed onto a vulnerable release fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ("requirements.lock", "requirements-dev.lock")

# package -> first release with the fix (the advisory it closes)
FIXED_IN = {
    "jinja2": "3.1.6",  # sandbox breakout through attr / |format (CVE-2025-27516)
    "cryptography": "44.0.1",  # vulnerable OpenSSL in wheels (CVE-2024-12797)
    "h11": "0.16.0",  # request smuggling (CVE-2025-43859)
    "requests": "2.32.4",  # .netrc credential leak (CVE-2024-47081)
    "urllib3": "2.5.0",  # redirects not disabled as asked (CVE-2025-50181)
    "tornado": "6.5",  # multipart logging DoS (CVE-2025-47287)
    "protobuf": "5.29.5",  # recursion DoS (CVE-2025-4565)
    "pillow": "11.3.0",  # DDS write overflow (CVE-2025-48379)
    "certifi": "2024.7.4",  # GLOBALTRUST roots (CVE-2024-39689)
    "idna": "3.7",  # quadratic-time encode (CVE-2024-3651)
}


def pins(lock: str) -> dict[str, Version]:
    found = {}
    for match in re.finditer(r"^([A-Za-z0-9_.-]+)==([^\s\\;]+)", (ROOT / lock).read_text(), re.M):
        found[match.group(1).lower().replace("_", "-")] = Version(match.group(2))
    return found


@pytest.mark.parametrize("lock", LOCKS)
def test_every_lock_entry_is_hash_pinned(lock: str) -> None:
    """Each `name==version` line is followed by its sha256 hashes (what --require-hashes needs)."""
    lines = (ROOT / lock).read_text().splitlines()
    entries = [i for i, line in enumerate(lines) if re.match(r"^[A-Za-z0-9_.-]+==", line)]
    unhashed = [lines[i] for i in entries if not lines[i + 1].strip().startswith("--hash=sha256:")]
    assert len(entries) > 20 and unhashed == []


@pytest.mark.parametrize("lock", LOCKS)
def test_pinned_releases_are_above_known_advisories(lock: str) -> None:
    pinned = pins(lock)
    below = {name: str(pinned[name]) for name, fixed in FIXED_IN.items()
             if name in pinned and pinned[name] < Version(fixed)}
    assert below == {}
    assert {"jinja2", "h11", "cryptography"} <= pinned.keys()


def test_pyproject_floors_exclude_the_vulnerable_releases() -> None:
    """A plain `pip install .` (no lock) cannot pick a release below the fix either."""
    floors = {}
    text = (ROOT / "pyproject.toml").read_text()
    dependencies = text[text.index("dependencies = ["):text.index("[project.scripts]")]
    for line in re.findall(r'^\s*"([^"]+)",', dependencies, re.M):
        requirement = Requirement(line)
        floors[requirement.name.lower()] = requirement.specifier
    last_vulnerable = {"jinja2": "3.1.5", "h11": "0.15.0", "requests": "2.32.3", "urllib3": "2.4.0",
                       "cryptography": "44.0.0", "idna": "3.6"}
    for name, vulnerable in last_vulnerable.items():
        assert floors[name].contains(FIXED_IN[name]) and not floors[name].contains(vulnerable), name


def test_both_entry_points_install_from_the_locks_with_hashes() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "install --require-hashes -r requirements.lock" in makefile
    assert "install --require-hashes -r requirements-dev.lock" in makefile
    assert re.search(r"^run: \$\(VENV\)/\.installed-run", makefile, re.M)
    assert re.search(r"^test: venv", makefile, re.M)
