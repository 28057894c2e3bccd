"""The examples of the README and of the documentation run as written, and the README's links resolve.

The getting-started example and the README's Python block train on real data (skipped where
MGL_DATA is unset); the links are checked everywhere.
"""

import os
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
GETTING_STARTED = REPO / "docs" / "getting-started.md"
needs_data = pytest.mark.skipif(
    not os.environ.get("MGL_DATA"), reason="MGL_DATA is unset: the examples train on real data"
)


def docs_example() -> str:
    text = GETTING_STARTED.read_text(encoding="utf-8")
    block = re.search(r"<!-- docs-example:start -->\s*```python\n(.*?)```\s*<!-- docs-example:end -->", text, re.S)
    assert block, "docs/getting-started.md lost its example block"
    return block.group(1)


def readme_python() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1, "the README has one Python example"
    return blocks[0]


@pytest.mark.unit
def test_the_examples_are_there():
    code = docs_example()
    assert "Classifier" in code and ".fit(" in code and ".predict(" in code and ".save_pretrained(" in code
    code = readme_python()
    assert 'load_dataset("sib-200"' in code and ".fit(" in code and ".save_pretrained(" in code


@pytest.mark.unit
def test_readme_is_a_front_door_whose_links_resolve():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    assert text.startswith("# mgl") and "make run" in text and "make test" in text
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if "://" not in link]
    assert len(local) >= 15
    missing = [link for link in local if not (REPO / link).exists()]
    assert not missing, f"README links to files that do not exist: {missing}"


@pytest.mark.integration
@pytest.mark.encoder
@needs_data
def test_getting_started_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(docs_example(), "docs/getting-started.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "ensemble ['positive', 'negative']"  # the default method; two unmistakable reviews
    assert out[-1] == "['negative']"  # the same answer from the reloaded model
    assert len(out) == 5 and all(line.split()[0] in ("en", "fr", "de", "ja") for line in out[2:4])  # neighbours
    assert (tmp_path / "models" / "demo" / "head.safetensors").exists()


@pytest.mark.integration
@pytest.mark.encoder
@needs_data
def test_readme_python_example_runs(tmp_path, monkeypatch):
    """The README's block as written, with data/sib-200 pointing at MGL_DATA's copy."""
    sib = Path(os.environ["MGL_DATA"]) / "sib-200"
    if not sib.is_dir():
        pytest.skip("MGL_DATA holds no sib-200/")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "sib-200").symlink_to(sib)
    monkeypatch.chdir(tmp_path)
    code = readme_python().replace('clf.predict(["', 'predicted = clf.predict(["')
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    clf = scope["clf"]
    assert clf.target == "yo" and clf.method == "ensemble" and len(clf.label_names) == 7
    assert scope["predicted"][0] in clf.label_names
    assert (tmp_path / "models" / "yo" / "mgl_model.json").exists()


def _prose_pages() -> list[Path]:
    pages = [README, *sorted((REPO / "docs").rglob("*.md"))]
    return [p for p in pages if "_build" not in p.parts]


@pytest.mark.unit
@pytest.mark.parametrize("page", _prose_pages(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_page_begins_or_ends_mid_sentence(page):
    """A page split in two keeps its seam: the first line of prose under the title starts a sentence
    (a capital, a number or markup) and the page's last line ends one (or a block, table or list)."""
    lines = [line.rstrip() for line in page.read_text(encoding="utf-8").splitlines()]
    body = [line for line in lines if line.strip() and not line.startswith("#")]
    assert body, f"{page} holds no prose"
    first, last = body[0].lstrip(), body[-1]
    assert first.startswith("mgl ") or not first[0].islower(), f"{page} begins mid-sentence: {first[:60]!r}"
    ends = (".", ":", ")", "!", "?", "```", "|", ">", "*", "`", "]", '"', "'")
    is_item = re.match(r"\s*([-*+]|\d+\.)\s", last) is not None
    assert is_item or last.endswith(ends), f"{page} ends mid-sentence: {last[-60:]!r}"
