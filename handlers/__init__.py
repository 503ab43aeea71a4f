"""Channel-neutral conversation flows, one module per journey."""
