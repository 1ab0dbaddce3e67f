"""The integrators' feed: each integrator's own de-identified copy of the log in the PUBLIC
stream (``publishing``, ``manager``), and its webhook deliveries (``webhooks``)."""
