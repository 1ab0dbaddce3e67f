"""The four Relais services; each owns one context of the log and its own database."""
