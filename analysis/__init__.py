"""Krachtpunten analysis: cleaning, reach and paired-change analyses, and report rendering.

The notebooks in ``notebooks/`` are thin: each cell calls a function from this package.
Paths come from :mod:`analysis.config`; study settings from ``analysis/study.yaml``; the
mapping of raw exports to tidy variables from ``analysis/codebook.yaml``.
"""

__version__ = "0.1.0"
