"""Read queries, one module per concern: each read rule is written in SQL once, here."""
