"""Collusion screening (SPEC S-3): statistical screens computed from raw bids, bidder and co-bidding network
features, an explainable risk score trained and evaluated on labelled history, a CLI and a regulator's page.

The analytics are pure (numpy, polars, scikit-learn, networkx) and never touch the database; imported files,
their scores and trained models are kept under ``<data_dir>/screening/``. See ``docs/screening.md``.
"""
