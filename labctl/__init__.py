"""labctl: the lab's command line. One module per subcommand; ``labctl.cli`` wires them together."""
