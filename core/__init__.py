"""Domain-free pieces every app may use: admin helpers, the error vocabulary, uploads, background jobs."""
