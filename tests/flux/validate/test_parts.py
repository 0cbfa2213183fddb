"""Pure parts: substitution, the Flux generator's listing, .sourceignore, versions, cycles."""

from __future__ import annotations

import doctest
import subprocess
import sys
from pathlib import Path

from freetier.flux.validate import substitute as substitute_module
from freetier.flux.validate.discover import normalize_path
from freetier.flux.validate.documents import SourceIgnore, load_documents
from freetier.flux.validate.graph import _cycles
from freetier.flux.validate.kustomize import generated_resources, split_documents
from freetier.flux.validate.schemas import bundled_versions, choose_version
from freetier.flux.validate.substitute import substitute


def test_substitute_doctest() -> None:
    assert doctest.testmod(substitute_module).failed == 0


def test_substitute_defaults_and_escapes() -> None:
    values = {"a": "1", "empty": ""}
    assert substitute("${a} ${b} ${b:=x} ${empty:-d} ${empty=d} $${a}", values) == "1  x d d ${a}"


def test_generated_resources_follow_flux(tmp_path: Path) -> None:
    (tmp_path / "app/sub/kust").mkdir(parents=True)
    (tmp_path / "app/.hidden").mkdir()
    for rel in (
        "app/a.yaml",
        "app/b.yml",
        "app/notes.txt",
        "app/sub/c.yaml",
        "app/.x.yaml",
        "app/sub/kust/kustomization.yaml",
        "app/sub/kust/d.yaml",
        "app/.hidden/e.yaml",
    ):
        (tmp_path / rel).write_text("kind: x\n")
    listed = generated_resources(tmp_path / "app", tmp_path, SourceIgnore())
    assert [p.relative_to(tmp_path).as_posix() for p in listed] == [
        "app/a.yaml",
        "app/b.yml",
        "app/sub/c.yaml",
        "app/sub/kust",
    ]


def test_sourceignore_patterns(tmp_path: Path) -> None:
    (tmp_path / ".sourceignore").write_text(
        "# c\n*.tmp.yaml\n/docs/\ntests/**/fixtures/\n!keep.tmp.yaml\n"
    )
    ignore = SourceIgnore.load(tmp_path)
    assert ignore.ignored("a/b/x.tmp.yaml", False)
    assert not ignore.ignored("a/keep.tmp.yaml", False)
    assert ignore.ignored("docs", True)
    assert not ignore.ignored("a/docs", True)
    assert ignore.ignored("tests/x/y/fixtures", True)
    assert not ignore.ignored("docs", False)


def test_line_numbers_follow_paths() -> None:
    doc = load_documents("---\na: 1\n---\nspec:\n  list:\n    - x: 1\n    - y: 2\n", "f.yaml")[1]
    assert (doc.line, doc.line_of("spec", "list", 1, "y"), doc.line_of("spec", "nope")) == (4, 7, 4)
    assert doc.body == {"spec": {"list": [{"x": 1}, {"y": 2}]}}


def test_yaml_scalars_as_kubernetes_reads_them() -> None:
    doc = load_documents("a: 2024-01-01\nb: on\nc: '07'\n", "f.yaml")[0]
    assert doc.body == {"a": "2024-01-01", "b": True, "c": "07"}


def test_split_documents() -> None:
    assert list(split_documents("a: 1\n---\nb: |\n  ---x\n---\n")) == ["a: 1\n", "b: |\n  ---x\n"]


def test_normalize_path() -> None:
    assert normalize_path("./clusters/prod/") == "clusters/prod"
    assert normalize_path("./") == normalize_path(None) == ""
    assert normalize_path("/apps//x") == "apps/x"


def test_choose_version() -> None:
    oldest, newest = bundled_versions()[0], bundled_versions()[-1]
    assert choose_version(None) == f"{newest[0]}.{newest[1]}"
    assert choose_version("v1.0.0") == f"{oldest[0]}.{oldest[1]}"
    assert choose_version("v1.30.9") == "1.30"


def test_cycles_one_per_component() -> None:
    a, b, c, d = ("n", "a"), ("n", "b"), ("n", "c"), ("n", "d")
    edges = {a: [(b, 0)], b: [(c, 0)], c: [(a, 0)], d: [(d, 0)]}
    assert sorted(_cycles(edges)) == [[a, b, c], [d]]


def test_many_double_stars_match_in_polynomial_time(tmp_path: Path) -> None:
    """Nine `**/` segments against a 40-folder-deep path took minutes with plain backtracking
    (any pull request can add such a .sourceignore); a subprocess with a generous deadline
    tells a hang from an answer without timing anything."""
    deep = "/".join(f"d{i}" for i in range(40)) + "/file.yaml"
    pattern = "**/" * 9 + "nomatch/x.yaml"
    (tmp_path / ".sourceignore").write_text(pattern + "\n")
    probe = (
        "import sys; from pathlib import Path; "
        "from freetier.flux.validate.documents import SourceIgnore; "
        f"print(SourceIgnore.load(Path(sys.argv[1])).ignored({deep!r}, False))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == "False"
    ignore = SourceIgnore.load(tmp_path)
    assert not ignore.ignored(deep, False)
    assert SourceIgnore(((False, False, "**/" * 9 + "d39/file.yaml"),)).ignored(deep, False)
