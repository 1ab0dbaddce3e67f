"""The portal's own rules, without I/O: user accounts (who may give which access) and the
sign-in throttle."""
