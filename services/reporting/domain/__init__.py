"""Reporting's pure rules: the indicator catalogue, calendar periods, aggregation into
tables, small-cell suppression, an answer's document, a case's state at an instant."""
