"""Fixture shared by the index tests: a two-document folder (an Indonesian .txt and a .md).

Not a conftest.py: the test modules import the top-level tests/conftest.py by name.
"""
import pytest


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    root = tmp_path_factory.mktemp("docs")
    (root / "a.txt").write_text("Kemenperin mendorong kerja sama dengan UNIDO. Proyek fokus pada industri 4.0.",
                                encoding="utf-8")
    (root / "b.md").write_text("# Energi\n\nPembangkit listrik tenaga surya dibangun di Bali.", encoding="utf-8")
    return root
