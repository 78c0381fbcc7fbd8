"""nlpzoo's application layer: the `zoo` command line and the demo, above the core (`zoo`) and the model
packages. Importing it is cheap; each command imports what it needs when it runs."""
