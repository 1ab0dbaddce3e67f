"""Reporting's HTTP API: statistics, periodic reports, the auditor's routes, permissions."""
