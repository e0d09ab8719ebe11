"""Fixtures shared by the tests that damage a copy of the raw exports."""

from __future__ import annotations

import shutil

import pytest

from analysis import clean, config


@pytest.fixture
def real_key(monkeypatch):
    """Damaged copies no longer match the synthetic manifest, so they count as real data and
    need a pseudonym key of their own."""
    monkeypatch.setenv(clean.KEY_ENV, "test-key")


@pytest.fixture
def raw(tmp_path):
    """A copy of the committed raw exports to damage."""
    dest = tmp_path / "raw"
    shutil.copytree(config.RAW_DIR, dest)
    return dest
