"""serlib: corpora, features, models and protocols for reproducible speech emotion recognition."""

__version__ = "0.1.0"
