"""Run the old ``synapse-sdk``'s own client tests against this package (``make compat``).

At run time: download the old package's source distribution from PyPI, take its
``BackendClient`` tests, switch their imports to ours, run them with pytest in a
Python 3.12 virtualenv where this package is installed (and the old one is not), and
print the pass count. Then run ``conformance.py``: the old package's own client, in a
second virtualenv, against this package's local backend. Nothing of the old package is
kept in the repository: its tests live in a temporary directory.

Standard library only; run it with any Python 3.10+.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

OLD = "synapse-sdk==2026.2.12"
#: The newest old package (its tests are pruned): its client runs against our local backend.
OLD_CLIENT = "synapse-sdk==2026.2.17"
#: Tests these files hold on the old package itself (pytest collects 130 there); a file
#: that does not import here counts all of its tests as failing.
EXPECTED = 130
ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".compat-venv"

# The old package's tests of its BackendClient, mixins, models and exceptions.
TESTS = [
    "tests/clients/test_annotation_mixin_batch.py",
    "tests/clients/test_annotation_schema_param.py",
    "tests/clients/test_exceptions.py",
    "tests/clients/test_integration_mixin.py",
    "tests/clients/test_ml_mixin.py",
    "tests/clients/test_storage_model.py",
    "tests/clients/test_tail_console_logs_route.py",
    "tests/clients/test_update_job_request.py",
    "tests/clients/test_url_host_optin.py",
    "tests/clients/bulk_upload/test_mixin.py",
    "tests/unit/test_chunked_upload_finalize_timeout.py",
]
SUPPORT = [
    "tests/__init__.py",
    "tests/clients/__init__.py",
    "tests/clients/conftest.py",
    "tests/clients/bulk_upload/__init__.py",
]

# Old import path -> ours. Only the public client surface is switched; anything else
# (the old base client, its utils, v2 client) stays as written and fails to import.
IMPORTS = [
    (r"\bsynapse_sdk\.clients\.backend\b", "synapse.clients.backend"),
    (r"\bsynapse_sdk\.clients\.exceptions\b", "synapse.clients.exceptions"),
    (r"\bsynapse_sdk\.exceptions\b", "synapse.clients.exceptions"),
]


def python312() -> str:
    """A Python 3.12: $COMPAT_PYTHON, python3.12 on PATH, or one under pyenv."""
    candidates = [os.environ.get("COMPAT_PYTHON", "")]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python")))
    candidates.append(shutil.which("python3.12") or "")
    for candidate in candidates:
        works = candidate and subprocess.run(  # noqa: S603
            [candidate, "-c", "import sys; assert sys.version_info[:2] == (3, 12)"],
            capture_output=True,
            check=False,
        )
        if works and works.returncode == 0:
            return candidate
    sys.exit("make compat needs Python 3.12 (set COMPAT_PYTHON)")


def run(*args: str, **kwargs: object) -> None:
    subprocess.run(args, check=True, **kwargs)  # type: ignore[call-overload]  # noqa: S603


def venv(name: str, *packages: str) -> Path:
    """A Python 3.12 virtualenv under ``.compat-venv/<name>`` with these packages."""
    home = VENV / name
    python = home / "bin" / "python"
    stamp = home / ".installed"
    if not python.exists():
        run(python312(), "-m", "venv", str(home))
    if not stamp.exists() or stamp.stat().st_mtime < (ROOT / "pyproject.toml").stat().st_mtime:
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        run(*pip, *packages)
        stamp.touch()
    return python


def fetch(python: Path, workdir: Path) -> Path:
    """The old sdist's tests, imports switched to ours, under ``workdir/tests``."""
    run(
        str(python),
        "-m",
        "pip",
        "download",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--no-binary",
        ":all:",
        OLD,
        "-d",
        str(workdir / "dl"),
    )
    (sdist,) = (workdir / "dl").glob("*.tar.gz")
    wanted = set(TESTS + SUPPORT)
    with tarfile.open(sdist) as archive:
        for member in archive.getmembers():
            inner = member.name.split("/", 1)[-1]
            if inner not in wanted or not member.isfile():
                continue
            source = archive.extractfile(member)
            assert source is not None
            text = source.read().decode()
            for pattern, replacement in IMPORTS:
                text = re.sub(pattern, replacement, text)
            target = workdir / inner
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    (workdir / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    return workdir / "tests"


def main() -> int:
    # Two environments: the old package must not be importable where its tests run (a
    # test importing an old module we do not provide must fail, not use the old code).
    python = venv("tests", "-e", str(ROOT), "pytest>=8", "responses>=0.25")
    client_python = venv("client", "-e", f"{ROOT}[local]", OLD_CLIENT)
    with tempfile.TemporaryDirectory(prefix="synapse-compat-") as tmp:
        workdir = Path(tmp)
        fetch(python, workdir)
        report = workdir / "report.xml"
        extra = sys.argv[1:]
        subprocess.run(  # noqa: S603
            [
                str(python),
                "-m",
                "pytest",
                "-q",
                "--tb=line",
                f"--junitxml={report}",
                "--continue-on-collection-errors",
                *TESTS,
                *extra,
            ],
            cwd=workdir,
            check=False,
        )
        cases = ET.parse(report).getroot().iter("testcase")  # noqa: S314 - our own report
        passed, failed = 0, []
        for case in cases:
            name = f"{case.get('classname')}::{case.get('name')}"
            if any(child.tag in ("failure", "error") for child in case):
                failed.append(name)
            elif not any(child.tag == "skipped" for child in case):
                passed += 1
        print("\nstill failing (a bare module name: the file does not import):")
        for name in failed:
            print(f"  {name}")
        print(f"\ncompat: {passed}/{EXPECTED} of the old synapse-sdk's client tests pass")
    print(f"\nThe old client ({OLD_CLIENT}) against the local backend:")
    subprocess.run(  # noqa: S603
        [
            str(client_python),
            "-W",
            "ignore::DeprecationWarning",
            str(ROOT / "compat" / "conformance.py"),
        ],
        check=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
