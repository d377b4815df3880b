"""Lean analytics on canonical event tables: analysis tables for the miner (value stream: a later issue)."""
