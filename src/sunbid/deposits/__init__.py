"""Bid deposits and guarantees (SPEC §4, M-1 … M-4): virtual sub-accounts, bank adapter, refunds, reconciliation."""
