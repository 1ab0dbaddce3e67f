"""The event backbone every Relais service stands on."""
