"""Multilingual labelled data: the data model, loaders, splits and subsampling."""

from mgl.data.examples import Example, label_vocabulary, languages_of, select

__all__ = ["Example", "label_vocabulary", "languages_of", "select"]
