"""Functions kairos calls: built-in aggregators and trusted user functions (`call` nodes)."""
