"""Inside the user namespace of a normal user's run (test_lab_as_a_normal_user): a private /run/netns, then pytest
on the given test files."""

from __future__ import annotations

import sys
import tempfile

import pytest

from tests.lab.__main__ import ensure_lab_privileges

if __name__ == "__main__":
    ensure_lab_privileges([])  # in the user namespace: mounts a private /run/netns and returns
    # pytest's own /tmp/pytest-of-<user> belongs to the real user, not to root of this namespace: a base of our own
    base = tempfile.mkdtemp(prefix="sensetwin-lab-pytest-")
    sys.exit(pytest.main(["-p", "no:cacheprovider", "-q", f"--basetemp={base}", *sys.argv[1:]]))
