"""The documentation site (issue 12.4): ``mkdocs build --strict`` (warnings are errors) into a temporary
folder, a page per registered construction, and the API reference listing every public name.

Skipped only when mkdocs or mkdocstrings' Python handler is not installed (the ``test`` extra installs
them, so CI builds the site). The build reads the docstrings statically (griffe), imports nothing of the
library, and writes nothing into the repository (checked).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import sltheory

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mkdocstrings_handlers") is None,
    reason="mkdocs / mkdocstrings[python] not installed (pip install -e '.[test]')")


def _tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    docs_before, site_existed = _tree(DOCS), (ROOT / "site").exists()
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
         "--site-dir", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    assert _tree(DOCS) == docs_before, "the docs build wrote into docs/"
    assert (ROOT / "site").exists() == site_existed, "the docs build wrote site/ into the repository"
    return out


def test_every_construction_has_a_page(site):
    for name, citation in sltheory.constructions().items():
        page = site / "constructions" / name / "index.html"
        assert (DOCS / "constructions" / f"{name}.md").is_file() and page.is_file(), f"no docs page for {name!r}"
        html = page.read_text(encoding="utf-8")
        assert "<h1" in html and name in html
        for arxiv in re.findall(r"arXiv:\d{4}\.\d{4,5}", citation):
            assert arxiv in html, f"{name}: the page does not cite {arxiv}"
        assert re.search(r"<h2[^>]*>[^<]*ours", html), f"{name}: no section on what is ours"


def test_api_reference_lists_every_public_name(site):
    ids: set[str] = set()
    for page in (site / "api").rglob("*.html"):
        ids |= set(re.findall(r'id="(sltheory[\w.]*)"', page.read_text(encoding="utf-8")))
    missing = [name for name in sltheory.__all__
               if f"sltheory.{name}" not in ids and not any(i.endswith(f".{name}") for i in ids)]
    assert not missing, f"public names without an entry in the API reference: {missing}"
    for extra in ("sltheory.constructions.base.Construction", "sltheory.subset_sum.solve",
                  "sltheory.certificate.bound"):
        assert extra in ids, extra


def _rst_roles():
    spec = importlib.util.spec_from_file_location("_docs_rst_roles", DOCS / "_ext" / "rst_roles.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(importlib.util.find_spec("griffe") is None, reason="griffe not installed")
def test_docstrings_are_rendered_as_markdown():
    convert = _rst_roles().rst_to_markdown
    text = ("See :func:`~sltheory.certificate.bound.certify` and :class:`a.B`, ``x_y`` and z⁻_j.\n"
            "Example::\n\n    code_x = 1\n\nback_to text")
    assert convert(text) == ("See `certify` and `a.B`, ``x_y`` and z⁻\\_j.\n"
                             "Example:\n\n    code_x = 1\n\nback\\_to text")
