"""Referral's application layer: making referrals, answering casework's requests, places,
and the deadline and capacity policies."""
