"""Sealed bids (投标): the sealed-bid container (``container``), and later submission, receipts and withdrawal.

``bidding.container`` is pure: it seals a bid on the bidder's machine and opens it with the bidder's key or the
section's opening key. Its byte format is in ``docs/bid-container.md``.
"""
