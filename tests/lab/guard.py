"""The guard every lab test module starts with: skip the module where no lab can be built, and tell whether the
tests run here directly (root) or again inside a user namespace (a normal user: OUTER)."""

from __future__ import annotations

import shutil

import pytest

from tests.lab.net import privileged, userns_possible


def lab_or_skip() -> bool:
    """Skip the calling test module (at import) without a lab; True (OUTER) when not root."""
    if shutil.which("ip") is None or shutil.which("tc") is None:
        pytest.skip("the lab needs `ip` and `tc` (apt-get install iproute2)", allow_module_level=True)
    as_root = privileged()
    if not as_root and not userns_possible():
        pytest.skip(
            "the lab needs root or user namespaces (neither is available to this user)", allow_module_level=True
        )
    return not as_root
