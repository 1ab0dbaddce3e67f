"""Casework's application layer: the policies that open cases from accepted reports and
flag missed deadlines."""
