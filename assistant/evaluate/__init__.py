"""Evaluation: datasets, one small function per metric, runs over a dataset and the written report."""
