"""Lean analytics on canonical tables: value stream (valuestream.py, plots.py), waste detection (waste.py) and
analysis tables for the miner (tables.py)."""
