"""Relais casework: cases from opening to closure."""
