"""Multi-turn chit-chat language models (NEZHA-GPT and CDial-GPT formats)."""
