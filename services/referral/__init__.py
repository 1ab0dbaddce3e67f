"""Relais referral: service directory and referrals between agencies."""
