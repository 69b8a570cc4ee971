"""The project's docs stand alone: what users and contributors need is in docs/, links resolve
inside the repository, and the architecture page names the folders and files that exist."""

import re
from pathlib import Path

from test_layering import FLOORS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _text(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def _without_provenance_note(text: str) -> str:
    return re.sub(r"<!--.*?-->", "", text, flags=re.S)


def test_every_doc_links_only_to_files_inside_the_repository():
    for page in sorted(DOCS.glob("*.md")):
        text = _without_provenance_note(page.read_text(encoding="utf-8"))
        assert "shared/" not in text, f"{page.name} points outside the repository"
        for target in re.findall(r"\]\(([^)#]+)\)", text):
            if not target.startswith(("http://", "https://")):
                assert (page.parent / target).exists(), f"{page.name}: {target} is missing"


def test_the_architecture_page_names_every_package_and_only_paths_that_exist():
    text = _text("architecture.md")
    for package in FLOORS:
        assert f"{package}/" in text
    assert " → ".join(reversed(FLOORS)) in text  # the dependency direction the test checks
    for path in set(re.findall(r"\b((?:web|templates|tests|docs)/[\w/.]*\w)", text)):
        assert (ROOT / path).exists(), f"architecture.md names {path}, which does not exist"


def test_the_architecture_page_names_every_table_model():
    text = _text("architecture.md")
    for package in FLOORS[:4]:
        source = (ROOT / package / "models.py").read_text(encoding="utf-8")
        for model in re.findall(r"^class (\w+)\(SQLModel, table=True", source, flags=re.M):
            assert f"`{model}`" in text, f"{package}.{model} is not in docs/architecture.md"


def _reference_codes(text: str) -> set[str]:
    """The codes in the first column of the tables ("HDPE-NAT-A / B / C (approx)" is three)."""
    codes = set()
    for cell in re.findall(
        r"^\| ([A-Z][A-Z0-9-]+(?: / [A-Z0-9]+)*)(?: \(approx\))? \|", text, re.M
    ):
        first, *others = cell.split(" / ")
        codes.add(first)
        codes.update(f"{first.rsplit('-', 1)[0]}-{other}" for other in others)
    return codes


def test_the_quality_references_hold_every_seeded_standard():
    from quality.reference_data import STANDARDS

    # the waste printed circuit boards (issue 10) follow Hagelüken (2006), not this table
    seeded = {s.code for s in STANDARDS if not s.code.startswith("PCB-")}
    assert seeded <= _reference_codes(_text("quality-references.md"))
