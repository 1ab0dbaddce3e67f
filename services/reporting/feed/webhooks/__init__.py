"""Webhook deliveries for integrators that do not speak NATS (Standard Webhooks)."""
