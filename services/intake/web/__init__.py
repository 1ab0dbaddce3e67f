"""Intake's HTTP API: routes, request and response models, permissions."""
