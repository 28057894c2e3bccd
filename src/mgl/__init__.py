"""mgl: few-shot cross-lingual text classification by Meta Graph Learning (EMNLP 2020)."""

__version__ = "0.1.0"
