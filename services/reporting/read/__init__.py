"""Reporting's read models: the facts every indicator is computed from, the periodic
reports' publications, the audit index, and the loaders that read them."""
