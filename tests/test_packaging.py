"""pyproject.toml declares every folder of code or data the installed app loads, so that
`pip install -e .` (scripts/setup.sh, scripts/demo.sh) is quiet and ships what runs."""

import tomllib
from fnmatch import fnmatch
from pathlib import Path

from setuptools import find_namespace_packages

ROOT = Path(__file__).resolve().parent.parent
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
NOT_SHIPPED = {"tests", "migrations", "bench", "scripts", "templates", "instance"}


def _declared() -> set[str]:
    find = SETUPTOOLS["packages"]["find"]
    assert find.get("namespaces", True), "data-only folders must be found as packages"
    return set(find_namespace_packages(where=str(ROOT), include=find["include"]))


def _folders_with_files(top: Path):
    for folder in [top, *top.rglob("*")]:
        if folder.is_dir() and "__pycache__" not in folder.parts:
            files = [f for f in folder.iterdir() if f.is_file() and f.suffix != ".pyc"]
            if files:
                yield folder, files


def test_every_top_level_package_is_declared():
    tops = {p.parent.name for p in ROOT.glob("*/__init__.py")} - NOT_SHIPPED
    assert tops and tops <= _declared()


def test_every_folder_holding_code_or_data_is_a_declared_package_with_its_files():
    declared = _declared()
    data = SETUPTOOLS.get("package-data", {})
    for top in sorted({name.split(".")[0] for name in declared}):
        for folder, files in _folders_with_files(ROOT / top):
            package = ".".join(folder.relative_to(ROOT).parts)
            assert package in declared, f"{package} is not in [tool.setuptools.packages.find]"
            for f in files:
                if f.suffix != ".py":
                    patterns = data.get(package, [])
                    assert any(fnmatch(f.name, p) for p in patterns), (
                        f"{f.relative_to(ROOT)} is not in [tool.setuptools.package-data]"
                    )


def test_the_translations_and_static_files_the_app_loads_are_shipped():
    declared = _declared()
    assert {"web.translations.ja.LC_MESSAGES", "web.static", "web.static.geo"} <= declared
    assert "tests" not in declared and "migrations" not in declared
