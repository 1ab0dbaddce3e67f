"""The portal: the web application frontline staff use, a backend-for-frontend that calls the
services' APIs with the signed-in user's own token."""
