"""What the portal does: call the services as the signed-in user, keep accounts (commands on
the log), passwords, sessions and sign-in with the identity provider."""
