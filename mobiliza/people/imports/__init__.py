"""Imports of people and voting history (CSV/TSV, presets, matching, households)."""
