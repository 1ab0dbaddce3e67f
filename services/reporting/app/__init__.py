"""Reporting's application layer: answering a statistical question, the periodic reports'
policy (publish, retire, revise) and the de-identified public feed."""
