"""Referral's read models: the directory, capacity, referrals, and what it learns of cases."""
