"""SPACES extract-then-generate long-document summarization."""
