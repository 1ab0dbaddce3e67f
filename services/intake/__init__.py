"""Relais intake: reports, children, screening, duplicates, complaints."""
