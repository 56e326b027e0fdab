"""Built-in usage sinks: database, jsonl, prometheus, webhook."""
