"""agents/allocator.py: the thresholds are set where glibc runs, and the switch leaves them alone."""

from __future__ import annotations

import platform

import pytest

from agents.allocator import keep_freed_memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_thresholds_set_on_glibc():
    assert keep_freed_memory() is True


def test_switch_off_leaves_the_defaults(monkeypatch):
    monkeypatch.setenv("MISGEN_KEEP_FREED_MEMORY", "0")
    assert keep_freed_memory() is False
