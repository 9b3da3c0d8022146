"""The docs include README sections by name: each name must exist, so no page is silently empty."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_included_readme_section_exists_and_is_closed():
    readme = (ROOT / "README.md").read_text()
    starts = set(re.findall(r"--8<-- \[start:([\w-]+)\]", readme))
    ends = set(re.findall(r"--8<-- \[end:([\w-]+)\]", readme))
    assert starts == ends
    included = set()
    for page in (ROOT / "docs").rglob("*.md"):
        included |= set(re.findall(r'--8<-- "README\.md:([\w-]+)"', page.read_text()))
    assert included, "the guides include README sections"
    assert included <= starts, included - starts


def test_every_docs_page_is_in_the_navigation():
    config = (ROOT / "mkdocs.yml").read_text()
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    assert {page for page in pages if page not in config} == set()
