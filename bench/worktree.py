"""Another git revision checked out beside this checkout, for the tools that compare the two
(``runs_ab.py``, ``lockstep_ab.py``, ``equivalence.py``)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def revision(rev: str, tool: str) -> Iterator[Path]:
    """``rev`` checked out into a temporary git worktree, removed afterwards; exits naming ``tool`` if git cannot
    check it out."""
    with tempfile.TemporaryDirectory() as folder:
        other = Path(folder) / "other"
        made = subprocess.run(["git", "worktree", "add", "--detach", str(other), rev], cwd=ROOT, capture_output=True,
                              text=True, check=False)
        if made.returncode != 0:
            sys.exit(f"{tool}: cannot check out {rev!r}: {made.stderr.strip()}")
        try:
            yield other
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(other)], cwd=ROOT, capture_output=True,
                           check=False)
