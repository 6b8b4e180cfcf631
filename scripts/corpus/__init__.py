"""Cleaning and layout of the shipped public-domain corpus; entry point: scripts/build_corpus.py."""
