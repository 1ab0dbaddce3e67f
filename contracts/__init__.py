"""What services share about each other: the models of the events they emit, and the public,
de-identified shapes integrators receive (``contracts.public``)."""
