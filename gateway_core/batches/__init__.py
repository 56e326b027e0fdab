"""OpenAI-compatible Files and Batches API, with a crash-safe worker (docs/batches.md)."""
