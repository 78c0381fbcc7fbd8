"""ape210k math word problems: exact preprocessing, safe evaluation, a UniLM solver."""
