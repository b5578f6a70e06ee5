"""The documentation site (docs/, mkdocs.yml) builds with --strict, and the README's links lead somewhere.

Why a test: a page renamed or a link mistyped is a silent 404 for the next reader; with `--strict`
mkdocs turns every broken link, missing anchor and page left out of the nav into a failure.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_docs_build_strict(tmp_path):
    out = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                          str(REPO / "mkdocs.yml"), "--site-dir", str(tmp_path / "site")],
                         capture_output=True, text=True, timeout=120, cwd=REPO)
    assert "No module named mkdocs" not in out.stderr, "mkdocs is in the dev extra: run `make setup`"
    assert out.returncode == 0, out.stderr[-3000:]
    assert (tmp_path / "site" / "index.html").is_file()


def test_readme_links_exist():
    text = (REPO / "README.md").read_text()
    targets = re.findall(r"\]\((?!https?:|mailto:|#)([^)\s#]+)", text)
    missing = [t for t in targets if not (REPO / t).exists()]
    assert not missing, f"README.md links to missing files: {missing}"
