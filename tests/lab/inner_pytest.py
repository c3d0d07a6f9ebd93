"""Inside the user namespace of a normal user's run (test_lab_as_a_normal_user): a private /run/netns, then pytest
on the given test files."""

from __future__ import annotations

import sys

import pytest

from tests.lab.__main__ import ensure_lab_privileges

if __name__ == "__main__":
    ensure_lab_privileges([])  # in the user namespace: mounts a private /run/netns and returns
    sys.exit(pytest.main(["-p", "no:cacheprovider", "-q", *sys.argv[1:]]))
