"""Relais reporting: indicators, statistics, exports, audit."""
