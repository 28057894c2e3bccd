"""Multilingual labelled data: the data model, loaders, splits and subsampling."""

from mgl.data.examples import Example, label_vocabulary, languages_of, select
from mgl.data.pawsx import load_pawsx
from mgl.data.registry import DATASETS, load_dataset, stats_rows
from mgl.data.splits import stratified_split, subsample, subsample_language
from mgl.data.user_files import load_table, parse_columns, parse_label_map
from mgl.data.validation import require_min_per_class, validate_examples
from mgl.data.webis import load_webis

__all__ = [
    "DATASETS",
    "Example",
    "label_vocabulary",
    "languages_of",
    "load_dataset",
    "load_pawsx",
    "load_table",
    "load_webis",
    "parse_columns",
    "parse_label_map",
    "require_min_per_class",
    "select",
    "stats_rows",
    "stratified_split",
    "subsample",
    "subsample_language",
    "validate_examples",
]
