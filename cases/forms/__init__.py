"""Forms, one module per concept (forms validate; services write)."""
