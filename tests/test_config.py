"""Configuration: Table 4 presets, YAML files, command-line overrides, validation."""

import pytest

from mgl.config import RunConfig, load_config
from mgl.config_values import apply_override
from mgl.errors import ConfigError

pytestmark = pytest.mark.unit


def test_presets_hold_table4():
    amazon = load_config("amazon")
    m = amazon.mgl
    assert (m.n_support, m.n_query, m.k_neighbours, m.train_episodes, m.test_episodes, m.eval_times) == (
        5,
        32,
        10,
        75,
        10,
        5,
    )
    assert m.encoder_lr == 1e-5 and m.hidden_dim == 768
    sr = load_config("search-relevance").mgl
    assert (sr.n_support, sr.n_query, sr.k_neighbours, sr.train_episodes, sr.test_episodes, sr.eval_times) == (
        5,
        64,
        100,
        100,
        20,
        5,
    )
    with pytest.raises(ConfigError, match="unknown preset"):
        load_config("nope")


def test_overrides_and_yaml(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("mgl:\n  k_neighbours: 7\ndata:\n  target: fr\n  sources: [en, de]\nseed: 3\n")
    cfg = load_config("amazon", path, ["mgl.n_query=16", "lr=0.01", "data.sources=en,de,ja", "learn_sigma=false"])
    assert cfg.mgl.k_neighbours == 7 and cfg.mgl.n_query == 16 and cfg.mgl.lr == 0.01
    assert cfg.data.target == "fr" and cfg.data.sources == ["en", "de", "ja"] and cfg.seed == 3
    assert cfg.mgl.learn_sigma is False


def test_string_fields_are_not_yaml_typed():
    cfg = RunConfig()
    apply_override(cfg, "data.target=no")  # Norwegian, not False
    assert cfg.data.target == "no"
    apply_override(cfg, "data.target_fraction=")
    assert cfg.data.target_fraction is None


@pytest.mark.parametrize(
    "item,expected",
    [
        ("encoder.prefix='query: '", "query: "),  # YAML single quotes: spaces kept, quotes removed
        ('encoder.prefix="query: "', "query: "),  # double quotes too
        ("encoder.prefix=' leading and trailing '", " leading and trailing "),
        ("encoder.prefix='it''s: '", "it's: "),  # YAML's escaped quote inside single quotes
        ("encoder.prefix=''", ""),  # an explicit empty prefix, not "unset"
        ("encoder.prefix=query: ", "query:"),  # unquoted text is stripped, as any value
        ("encoder.prefix='query: ", "'query:"),  # unbalanced: taken as it is (stripped)
        ("prefix='passage: '", "passage: "),  # unique field names work the same
    ],
)
def test_quoted_override_values_are_their_strings(item, expected):
    cfg = load_config("amazon", None, [item])
    assert cfg.encoder.prefix == expected


def test_quoted_lists_and_numbers_still_parse():
    cfg = load_config("amazon", None, ["data.sources='en','fr'", "mgl.lr='0.01'", "data.target='de'"])
    assert cfg.data.sources == ["en", "fr"] and cfg.mgl.lr == 0.01 and cfg.data.target == "de"


@pytest.mark.parametrize(
    "item,message",
    [
        ("mgl.n_query=abc", "must be int"),
        ("nonsense=1", "unknown setting"),
        ("foo.bar=1", "unknown section"),
        ("mgl.n_query", "field=value"),
        ("mgl.dropout=1.5", "dropout"),
        ("encoder.train=sometimes", "encoder.train"),
        ("data.target=en", "also a source"),
    ],
)
def test_bad_overrides_are_clear(item, message):
    with pytest.raises(ConfigError, match=message):
        load_config("amazon", None, [item]).validate()


def test_round_trip_through_dict():
    cfg = load_config("amazon", None, ["mgl.gcn_layers=3"])
    again = RunConfig.from_dict(cfg.to_dict())
    assert again == cfg


def test_the_quick_scales_are_presets_applied_under_the_overrides():
    from mgl.config import QUICK_SCALES, quick_path

    base = load_config("amazon")
    text = load_config("amazon", quick=("text",))
    assert (text.data.max_per_class, text.encoder.max_length, text.mgl.lr) == (20, 128, 1e-3)
    assert text.mgl.n_query == base.mgl.n_query  # the text scale leaves R alone
    ablation = load_config("amazon", quick=("text", "ablation"))
    assert ablation.mgl.n_query == 16 and ablation.data.max_per_class == 20
    pairs = load_config("search-relevance", quick=("pairs",))
    assert (pairs.encoder.max_length, pairs.mgl.n_query) == (64, 32)
    # --set wins over the quick scale
    assert load_config("amazon", None, ["mgl.lr=5e-4"], quick=("text",)).mgl.lr == 5e-4
    assert all(quick_path(name).is_file() for name in QUICK_SCALES)
    with pytest.raises(ConfigError, match="unknown quick scale 'tiny'"):
        load_config("amazon", quick=("tiny",))


@pytest.mark.parametrize("preset", ["amazon", "search-relevance"])
def test_a_preset_holds_only_what_differs_from_the_defaults(preset):
    """A default lives in one place (mgl.config): a preset that restated one would hide a change of it."""
    from dataclasses import asdict

    from mgl.config import load_yaml, preset_path

    defaults = asdict(RunConfig())
    raw = load_yaml(preset_path(preset))
    for section, values in raw.items():
        for name, value in values.items():
            assert defaults[section][name] != value, f"{preset}: {section}.{name}={value!r} is the default"
