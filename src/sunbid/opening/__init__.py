"""Bid opening (开标): the section opening key and its custodians (``keys``); later sessions, records and draws.

``opening.keys`` is pure: it makes a section's opening key pair, splits the private key k-of-n among custodians
(Shamir, pycryptodome) and rebuilds it, refusing a wrong reconstruction. See ``docs/bid-container.md``.
"""
