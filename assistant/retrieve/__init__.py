"""Retrieval: questions made ready for search, passage searchers behind one protocol, hybrid fusion."""
