"""Answers: generators behind one protocol (extractive, LLMs), citations and their check, abstention."""
