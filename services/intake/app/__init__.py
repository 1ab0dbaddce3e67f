"""Intake's application layer: what turns a request or another context's event into
events on intake's aggregates (recording children, the policies, the child corrector)."""
