"""One module per `tracer` sub-command; `tracer.cli` registers them."""
