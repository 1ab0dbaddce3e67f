"""The ``relais`` command: run the system, mint tokens, benchmark, audit."""
