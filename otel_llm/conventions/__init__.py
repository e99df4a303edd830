"""One module per LLM span convention: how to read it, and how to write it where we emit it."""
