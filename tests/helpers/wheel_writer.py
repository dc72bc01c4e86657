"""The one wheel writer of the test suite: a real ``py3-none-any`` wheel with METADATA, WHEEL and a hashed RECORD.

Standard library only, so that it also runs where no test helper is importable:
the PEP 517 backends of the projects the tests generate (hatch's test project,
the gated and the editable projects of :mod:`support`) get a copy of this file
next to their ``backend.py`` (:func:`copy_into`) and import it from there, in
the build subprocess.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import shutil
import zipfile
from collections.abc import Iterable, Mapping, Sequence

WHEEL_TAG = "py3-none-any"


def record_hash(data: bytes) -> str:
    """The hash of *data* as RECORD writes it: ``sha256=`` and unpadded urlsafe base64."""
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def metadata(
    name: str, version: str, requires: Iterable[str] = (), extras: Mapping[str, Sequence[str]] | None = None
) -> bytes:
    """``METADATA``: name, version, ``Requires-Dist`` lines, and each extra with its requirements."""
    lines = ["Metadata-Version: 2.1", "Name: " + name, "Version: " + version]
    lines += ["Requires-Dist: " + requirement for requirement in requires]
    for extra, requirements in (extras or {}).items():
        lines.append("Provides-Extra: " + extra)
        for requirement in requirements:
            marker = "" if ";" in requirement else f"; extra == '{extra}'"
            lines.append("Requires-Dist: " + requirement + marker)
    return ("\n".join(lines) + "\n").encode()


def write_wheel(
    directory: str | os.PathLike[str],
    name: str,
    version: str,
    files: Iterable[tuple[str, bytes]],
    *,
    requires: Iterable[str] = (),
    extras: Mapping[str, Sequence[str]] | None = None,
    generator: str = "venvlock-tests",
    compress: bool = True,
) -> str:
    """Write ``<name>-<version>-py3-none-any.whl`` into *directory*; return its file name.

    *files* are ``(path in the wheel, bytes)``; METADATA, WHEEL and RECORD
    (with the hash and size of every file) are added.  Dashes in *name* become
    underscores in the file names, as in any wheel.
    """
    dist = f"{name.replace('-', '_')}-{version}"
    entries = list(files)
    entries.append((dist + ".dist-info/METADATA", metadata(name, version, requires, extras)))
    wheel = f"Wheel-Version: 1.0\nGenerator: {generator}\nRoot-Is-Purelib: true\nTag: {WHEEL_TAG}\n"
    entries.append((dist + ".dist-info/WHEEL", wheel.encode()))
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for path, data in entries:
        writer.writerow([path, record_hash(data), len(data)])
    writer.writerow([dist + ".dist-info/RECORD", "", ""])
    entries.append((dist + ".dist-info/RECORD", record.getvalue().encode()))
    wheel_name = f"{dist}-{WHEEL_TAG}.whl"
    os.makedirs(str(directory), exist_ok=True)
    compression = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(os.path.join(str(directory), wheel_name), "w", compression) as archive:
        for path, data in entries:
            archive.writestr(path, data)
    return wheel_name


def copy_into(folder: str | os.PathLike[str]) -> None:
    """Put a copy of this module into *folder*, for a generated backend there to ``import wheel_writer``."""
    shutil.copyfile(os.path.abspath(__file__), os.path.join(str(folder), "wheel_writer.py"))
