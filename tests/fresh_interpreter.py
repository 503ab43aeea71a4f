"""Running a snippet in a new Python process, to see what importing our code really loads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def modules_loaded(code: str, prefix: str) -> list[str]:
    """The modules whose names start with ``prefix`` once ``code`` has run in a fresh interpreter
    (``code`` fails the test if it raises)."""
    probe = f"{code}\nimport sys\nprint(sorted(m for m in sys.modules if m.startswith({prefix!r})))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    return eval(result.stdout.strip())  # noqa: S307 - the repr of a list of str we printed ourselves
