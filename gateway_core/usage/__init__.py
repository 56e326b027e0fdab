"""Usage: what each request consumed and cost, and where that record goes."""
