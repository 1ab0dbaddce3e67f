"""The portal's own database: accounts as projected from their events, and what must never
reach the log (password hashes, sessions, the sign-in throttle)."""
