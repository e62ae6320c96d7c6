"""Ingest: corpus files to documents (text, outline, structure recovery) and passages; curated data."""
