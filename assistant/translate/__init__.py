"""English renderings: LLM drafts of the sentences a plan has no rendering for, checked before kept."""
