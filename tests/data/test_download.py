"""Webis-CLS-10 download: from a local file:// tarball; safety checks; atomic unpacking; no network."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from mgl.data.download import check_webis_archive, download_webis, expected_webis_files
from mgl.data.webis import load_webis
from mgl.errors import DataError, MGLError

pytestmark = pytest.mark.unit


@pytest.fixture
def make_archive(review_xml):
    """``make_archive(path, extra=..., skip=...)``: a gzip tar of a tiny cls-acl10-unprocessed tree
    (2 reviews per label per file), plus ``extra`` members, less the ``skip`` file."""

    def make(path: Path, *, extra: dict[str, bytes] | None = None, skip: str | None = None) -> Path:
        _write_archive(path, review_xml, extra or {}, skip)
        return path

    return make


def _write_archive(path: Path, review_xml, extra: dict[str, bytes], skip: str | None) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for rel in expected_webis_files():
            if rel == skip:
                continue
            data = review_xml(["1.0", "4.0", "2.0", "5.0"], tag=rel).encode("utf-8")
            info = tarfile.TarInfo(f"cls-acl10-unprocessed/{rel}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, data in extra.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_download_from_file_url(make_archive, tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "cls.tar.gz")
    dest = tmp_path / "data"
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    folder = download_webis(dest, url=archive.as_uri(), md5=md5, progress=False)
    assert folder == dest / "cls-acl10-unprocessed"
    examples = load_webis(folder, splits=["test"])
    assert len(examples) == 24 * 4 // 2 and {ex.language for ex in examples} == {"en", "de", "fr", "ja"}
    # nothing left over beside the result
    assert sorted(p.name for p in dest.iterdir()) == ["cls-acl10-unprocessed"]
    # a complete copy is kept as it is; --force replaces it
    marker = folder / "marker"
    marker.write_text("x")
    assert download_webis(dest, url="file:///nonexistent.tar.gz", progress=False) == folder and marker.exists()
    download_webis(dest, url=archive.as_uri(), progress=False, force=True)
    assert not marker.exists() and sorted(p.name for p in dest.iterdir()) == ["cls-acl10-unprocessed"]


def test_md5_mismatch_is_refused(make_archive, tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "cls.tar.gz")
    dest = tmp_path / "data"
    with pytest.raises(DataError, match="does not match the expected 0123"):
        download_webis(dest, url=archive.as_uri(), md5="0123" + "0" * 28, progress=False)
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize(
    "member, words",
    [
        ("cls-acl10-unprocessed/../../evil.txt", "leads outside"),
        ("/etc/evil.txt", "absolute path"),
        ("elsewhere/evil.txt", "not inside cls-acl10-unprocessed/"),
    ],
)
def test_unsafe_members_are_refused(make_archive, tmp_path: Path, member: str, words: str) -> None:
    archive = make_archive(tmp_path / "evil.tar.gz", extra={member: b"gotcha"})
    with pytest.raises(DataError, match=words):
        check_webis_archive(archive)
    dest = tmp_path / "data"
    with pytest.raises(DataError, match=words):
        download_webis(dest, url=archive.as_uri(), progress=False)
    assert list(dest.iterdir()) == []
    assert not (tmp_path / "evil.txt").exists()


def test_symlink_member_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "link.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("cls-acl10-unprocessed/en/books/train.review")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(DataError, match="link or a special file"):
        check_webis_archive(archive)


def test_incomplete_or_broken_archives(make_archive, tmp_path: Path) -> None:
    partial = make_archive(tmp_path / "partial.tar.gz", skip="jp/music/test.review")
    with pytest.raises(DataError, match=r"lacks 1 expected file\(s\): jp/music/test\.review"):
        download_webis(tmp_path / "a", url=partial.as_uri(), progress=False)
    assert list((tmp_path / "a").iterdir()) == []
    html = tmp_path / "page.html"
    html.write_text("<html>please log in</html>")
    with pytest.raises(DataError, match="not a valid gzip tar archive"):
        download_webis(tmp_path / "b", url=html.as_uri(), progress=False)
    assert list((tmp_path / "b").iterdir()) == []


def test_network_failure_is_one_line_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(MGLError) as caught:
        download_webis(tmp_path / "c", url=(tmp_path / "missing.tar.gz").as_uri(), progress=False)
    message = str(caught.value)
    assert message.startswith("could not download file://") and "by hand from" in message
    assert "zenodo.org/records/3251672" in message and "\n" not in message
    assert list((tmp_path / "c").iterdir()) == []
