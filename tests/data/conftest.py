"""Fixtures for the data tests: the handwritten fixture folder, real data (``MGL_DATA``), and a
builder of small Webis-CLS-10 trees in the publisher's layout."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "data"


@pytest.fixture
def fixtures() -> Path:
    """The folder of handwritten data fixtures (see its README.md)."""
    return FIXTURES


@pytest.fixture(scope="session")
def mgl_data() -> Path:
    """The real-data folder named by ``MGL_DATA``; the test is skipped where it is unset."""
    value = os.environ.get("MGL_DATA")
    if not value:
        pytest.skip("MGL_DATA is unset: point it at the folder holding cls-acl10-unprocessed/ and paws-x/")
    root = Path(value)
    if not root.is_dir():
        pytest.skip(f"MGL_DATA={value} is not a folder")
    return root


@pytest.fixture(scope="session")
def webis_root(mgl_data: Path) -> Path:
    root = mgl_data / "cls-acl10-unprocessed"
    if not root.is_dir():
        pytest.skip(f"no cls-acl10-unprocessed/ under MGL_DATA={mgl_data}")
    return root


@pytest.fixture(scope="session")
def pawsx_root(mgl_data: Path) -> Path:
    root = mgl_data / "paws-x"
    if not root.is_dir():
        pytest.skip(f"no paws-x/ under MGL_DATA={mgl_data}")
    return root


def _review_xml(ratings: list[str | None], *, tag: str = "") -> str:
    """A ``.review`` file with one item per rating (None: no rating element)."""
    items = []
    for i, rating in enumerate(ratings, start=1):
        rating_xml = f"<rating>{rating}</rating>" if rating is not None else ""
        items.append(
            f"<item><summary>{escape(f'Summary {tag} {i}')}</summary>{rating_xml}"
            f"<text>{escape(f'Body of review {i} in {tag} & more.')}</text></item>"
        )
    return '<?xml version="1.0" encoding="utf-8"?>\n<items>' + "\n".join(items) + "</items>\n"


@pytest.fixture
def review_xml() -> Callable[..., str]:
    """``review_xml(ratings, tag=...)``: the text of a ``.review`` file with one item per rating
    (None: an item without a rating element)."""
    return _review_xml


WebisBuilder = Callable[..., Path]


@pytest.fixture
def make_webis_tree(tmp_path: Path) -> WebisBuilder:
    """Build ``cls-acl10-unprocessed/{en,de,fr,jp}/{books,dvd,music}/{train,test}.review`` under
    tmp_path with ``per_label`` negative (ratings 1, 2) and positive (4, 5) items per file."""

    def build(per_label: int = 10, *, ja_folder: str = "jp") -> Path:
        root = tmp_path / "cls-acl10-unprocessed"
        for lang in ("en", "de", "fr", ja_folder):
            for domain in ("books", "dvd", "music"):
                folder = root / lang / domain
                folder.mkdir(parents=True, exist_ok=True)
                for name in ("train", "test"):
                    ratings = [("1.0", "2.0")[i % 2] for i in range(per_label)]
                    ratings += [("4.0", "5.0")[i % 2] for i in range(per_label)]
                    ratings = ratings[::2] + ratings[1::2]  # interleave the labels
                    (folder / f"{name}.review").write_text(
                        _review_xml(ratings, tag=f"{lang}/{domain}/{name}"), encoding="utf-8"
                    )
        return root

    return build
