"""The built index: building and keeping it fresh, its folder on disk, and its typed read-only view."""
