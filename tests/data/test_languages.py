"""Language codes in any spelling become one canonical tag (mgl.data.languages), in files, options and
the library; SIB-200 is a built-in data set read in the publisher's layout."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mgl.config import load_config
from mgl.data.languages import canonical_language, is_canonical, language_label
from mgl.data.user_files import load_table
from mgl.errors import ConfigError, DataError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "spellings, tag",
    [
        (["yo", "yor", "yor_Latn", "yo-Latn", "YO", " yor "], "yo"),
        (["en", "eng", "eng_Latn", "en-Latn"], "en"),
        (["zh", "zho_Hans", "zh-Hans"], "zh"),
        (["zh-Hant", "zho_Hant"], "zh-Hant"),
        (["ace", "ace_Latn"], "ace"),
        (["ace_Arab", "ace-Arab"], "ace-Arab"),
        (["quy", "quy_Latn"], "quy"),
        (["bug", "bug_Latn"], "bug"),
        (["ja", "jpn", "jpn_Jpan"], "ja"),
        (["ks", "kas_Arab"], "ks"),
        (["ks-Deva", "kas_Deva"], "ks-Deva"),
        (["nb", "nob", "nob_Latn"], "nb"),
        # a region folds into the language; the usual script (Korean's Hangul included) says nothing
        (["ko", "kor", "ko-Hang", "kor_Hang", "ko-KR", "ko-Kore"], "ko"),
        (["fr", "fr-FR", "fr-CA", "fra_Latn"], "fr"),
        (["en", "en-US", "en-GB", "en-Latn-US"], "en"),
        (["ru", "ru-Cyrl", "ru-RU"], "ru"),
        (["pt", "pt-BR", "pt-PT"], "pt"),
        # CLDR knows no likely script for these: their macrolanguage's (Arabic, Pashto) is the usual one
        (["acm", "acm-Arab", "acm_Arab", "acm-IQ"], "acm"),
        (["pbt", "pbt_Arab"], "pbt"),
        (["ajp", "ajp_Arab"], "ajp"),
        (["azb", "azb_Arab"], "azb"),
        # a region that implies a script other than the usual one keeps the script
        (["zh-Hant", "zh-TW", "zh-Hant-TW", "zho_Hant"], "zh-Hant"),
        # a region that names a variety of its own in the IANA registry stays: Dari
        (["fa-AF", "prs", "prs_Arab"], "fa-AF"),
    ],
)
def test_every_spelling_of_a_language_is_one_tag(spellings, tag):
    assert {canonical_language(s) for s in spellings} == {tag}
    assert is_canonical(tag) and canonical_language(tag) == tag


def test_the_codes_mgl_always_read_are_their_own_tags():
    """Saved models, cache keys and committed grids name en, fr, de, ja, es, ko, zh: they stay as they are."""
    for code in ("en", "fr", "de", "ja", "es", "ko", "zh"):
        assert canonical_language(code) == code


@pytest.mark.parametrize("tag", ["ace-Arab", "zh-Hant", "ks-Deva", "arb-Latn", "fa-AF", "knc-Arab"])
def test_a_script_that_is_not_the_usual_one_stays_distinct(tag):
    base = tag.split("-")[0]
    assert canonical_language(tag) == tag != canonical_language(base)


def test_regions_can_be_kept_for_a_user_to_whom_they_matter():
    assert canonical_language("pt-BR", keep_regions=True) == "pt-BR"
    assert canonical_language("pt-PT", keep_regions=True) == "pt-PT"
    assert canonical_language("pt_Latn", keep_regions=True) == "pt"
    assert is_canonical("pt-BR") and not is_canonical("fr-Latn")
    cfg = load_config(None, None, ["data.sources=en-US,pt-PT", "data.target=pt-BR", "data.keep_regions=true"])
    cfg.validate()
    assert cfg.data.sources == ["en-US", "pt-PT"] and cfg.data.target == "pt-BR"
    with pytest.raises(ConfigError, match="is also a source"):
        load_config(None, None, ["data.sources=en,pt-PT", "data.target=pt-BR"]).validate()


_SCRIPTS = ["Latn", "Arab", "Cyrl", "Hans", "Hant", "Deva", "Hang", "Kore", "Ethi", "Tibt", "Hebr", "Grek"]
_REGIONS = ["US", "FR", "KR", "CN", "TW", "BR", "IN", "NG", "AF", "IQ", "RU", "001"]


@settings(max_examples=300, deadline=None)
@given(
    code=st.sampled_from(["yo", "yor", "ko", "kor", "zh", "zho", "ar", "arb", "acm", "fa", "prs", "ks", "kas", "pt"]),
    script=st.none() | st.sampled_from(_SCRIPTS),
    region=st.none() | st.sampled_from(_REGIONS),
    underscore=st.booleans(),
)
def test_spellings_langcodes_calls_one_language_give_one_tag(code, script, region, underscore):
    """Any two spellings that langcodes normalises to the same language, script and region give
    the same tag, the tag is its own canonical form, and a region changes a tag only where kept
    or where it names a variety of its own."""
    import langcodes

    parts = [code] + [p for p in (script, region) if p is not None]
    spelling = ("_" if underscore else "-").join(parts)
    try:
        tag = canonical_language(spelling)
    except ConfigError:
        return
    normal = langcodes.Language.get(spelling.replace("_", "-"))
    twin = normal.to_tag()  # langcodes' own spelling of the same language, script and region
    assert canonical_language(twin) == tag
    assert canonical_language(tag) == tag and is_canonical(tag)
    assert canonical_language(tag, keep_regions=True) == tag
    if normal.territory is not None and normal.territory not in ("AF", "CD", "ME"):
        assert normal.territory not in tag.split("-")


@pytest.mark.parametrize("bad", ["jp", "english", "xx", "qaa", "", "e", "en_Zzzzz_X", "123", "zz-Latn"])
def test_unknown_or_malformed_codes_are_refused(bad):
    with pytest.raises(ConfigError, match="is not a language code"):
        canonical_language(bad)


def test_a_label_shows_the_english_name():
    assert language_label("yo") == "yo (Yoruba)"
    assert language_label("zh-Hant") == "zh-Hant (Chinese (Traditional))"


def test_a_file_mixing_spellings_reads_one_language_and_says_so_once(tmp_path, caplog):
    path = tmp_path / "mixed.csv"
    path.write_text(
        "text,label,language\na,x,yo\nb,y,yor_Latn\nc,x,yor\nd,y,quy\ne,x,bug\nf,y,ace_Arab\n", encoding="utf-8"
    )
    with caplog.at_level(logging.WARNING, logger="mgl"):
        examples = load_table(path)
    assert [ex.language for ex in examples] == ["yo", "yo", "yo", "quy", "bug", "ace-Arab"]
    notes = [r.getMessage() for r in caplog.records if "several spellings" in r.getMessage()]
    assert len(notes) == 1 and "'yo', 'yor', 'yor_Latn' -> yo (Yoruba)" in notes[0]


def test_a_file_with_regions_and_scripts_of_one_language_reads_one_language(tmp_path, caplog):
    """ko, kor, ko-Hang and ko-KR are one language; acm and acm-Arab too; one notice for the file."""
    path = tmp_path / "korean.csv"
    rows = ["ko", "kor", "ko-Hang", "ko-KR", "acm", "acm-Arab", "ace-Arab", "fr-FR", "fr"]
    path.write_text("text,label,language\n" + "".join(f"t{i},x,{c}\n" for i, c in enumerate(rows)), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="mgl"):
        examples = load_table(path)
    assert [ex.language for ex in examples] == ["ko"] * 4 + ["acm", "acm", "ace-Arab", "fr", "fr"]
    notes = [r.getMessage() for r in caplog.records if "several spellings" in r.getMessage()]
    assert len(notes) == 1
    assert "'ko', 'ko-Hang', 'ko-KR', 'kor' -> ko (Korean)" in notes[0] and "'fr', 'fr-FR' -> fr" in notes[0]
    assert "'acm', 'acm-Arab' -> acm" in notes[0]
    kept = load_table(path, keep_regions=True)
    assert [ex.language for ex in kept][3] == "ko-KR" and [ex.language for ex in kept][7] == "fr-FR"


def test_an_unknown_code_in_a_file_names_the_file_and_record(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("text,label,language\na,x,yo\nb,y,klingon\n", encoding="utf-8")
    with pytest.raises(
        DataError,
        match=r"bad.csv, record 3: language 'klingon' \(column 'language'\) is not a "
        "language code",
    ):
        load_table(path)


def test_options_and_the_configuration_take_any_spelling():
    cfg = load_config(None, None, ["data.sources=eng_Latn,fra,zho_Hans,arb_Arab", "data.target=yor_Latn"]).validate()
    assert cfg.data.sources == ["en", "fr", "zh", "arb"] and cfg.data.target == "yo"
    with pytest.raises(ConfigError, match="target language 'jp' is not a language code"):
        load_config(None, None, ["data.target=jp"]).validate()
    with pytest.raises(ConfigError, match="is also a source"):
        load_config(None, None, ["data.sources=en,fr", "data.target=eng_Latn"]).validate()


# -- SIB-200 ---------------------------------------------------------------------------------------


def sib_root() -> Path:
    data = os.environ.get("MGL_DATA")
    if not data or not (Path(data) / "sib-200").is_dir():
        pytest.skip("MGL_DATA is unset or holds no sib-200/ (export MGL_DATA=../shared/data)")
    return Path(data) / "sib-200"


@pytest.mark.integration
def test_sib200_reads_the_publishers_layout_in_any_spelling():
    from mgl.data.registry import load_dataset
    from mgl.data.sib200 import SIB200_LABELS

    root = sib_root()
    yo = load_dataset("sib-200", root=root, languages=["yor_Latn"])
    assert (
        load_dataset("sib-200", root=root, languages=["yo"])
        == yo
        == load_dataset("sib-200", root=root, languages=["yor"])
    )
    counts = {split: sum(ex.split == split for ex in yo) for split in ("train", "validation", "test")}
    assert counts == {"train": 701, "validation": 99, "test": 204}
    assert {ex.language for ex in yo} == {"yo"} and sorted({ex.label for ex in yo}) == list(SIB200_LABELS)
    assert yo[0].uid.startswith("yor_Latn/train#")
    # the files quote a text holding a quote as pandas writes TSV: read as the sentence, not its quoting
    en = {ex.uid.split("#")[1]: ex.text for ex in load_dataset("sib-200", root=root, languages=["eng_Latn"])}
    assert en["1239"].startswith('"She’s very cute and sings quite well, too," he said')
    # every folder answers to every spelling that names it unambiguously
    for spellings, folder in [
        (["kor_Hang", "kor", "ko", "ko-KR", "ko-Hang"], "kor_Hang"),
        (["acm_Arab", "acm", "acm-Arab"], "acm_Arab"),
        (["pbt", "pbt_Arab"], "pbt_Arab"),
        (["azb", "azb_Arab"], "azb_Arab"),
        (["ajp", "ajp_Arab"], "ajp_Arab"),
        (["crh", "crh_Latn"], "crh_Latn"),
        (["zh-TW", "zho_Hant"], "zho_Hant"),
    ]:
        for spelling in spellings:
            rows = load_dataset("sib-200", root=root, languages=[spelling], splits=["test"])
            assert rows[0].uid.startswith(f"{folder}/test#"), spelling
    # training too: the one Crimean Tatar folder is in the Latin script, not the language's usual one
    from mgl.data.preparation import prepare_data

    cfg = load_config(
        None, None, ["data.name=sib-200", f"data.root={root}", "data.sources=eng_Latn", "data.target=crh"]
    )
    cfg.data.max_per_class = 3
    prepared = prepare_data(cfg.validate().data, 0)
    assert prepared.target == "crh-Latn" and {ex.language for ex in prepared.examples} == {"en", "crh-Latn"}
    with pytest.raises(DataError, match="no SIB-200 folder for \\['tlh'\\]"):
        load_dataset("sib-200", root=root, languages=["tlh"])


@pytest.mark.integration
def test_sib200_scripts_stay_apart():
    from mgl.data.sib200 import sib200_folders

    folders = sib200_folders(sib_root())
    assert len(folders) == 205
    assert folders["ace"] == "ace_Latn" and folders["ace-Arab"] == "ace_Arab"
    assert folders["zh"] == "zho_Hans" and folders["zh-Hant"] == "zho_Hant"
