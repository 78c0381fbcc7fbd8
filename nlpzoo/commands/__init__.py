"""One module per `zoo` subcommand: `add_arguments(parser)` (cheap imports only) and `run(args) -> int`."""
