"""The `tracer` command line. Sub-commands live in `tracer.commands`, one module each."""

from __future__ import annotations

import typer

from tracer.commands import (
    backtest,
    bench,
    chaos,
    check_config,
    demo,
    eval,
    incidents,
    keys,
    migrate,
    serve,
    silence,
    up,
)

app = typer.Typer(
    name="tracer",
    help="Tracer: an AI incident assistant for observability.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.command("up")(up.up)
app.command("migrate")(migrate.migrate_command)
app.command("check-config")(check_config.check_config)
app.command("processor")(serve.processor)
app.command("agent")(serve.agent)
app.command("bench")(bench.bench)
app.add_typer(keys.app, name="keys")
app.add_typer(incidents.app, name="incidents")
app.add_typer(silence.app, name="silence")
app.command("demo")(demo.demo)
app.command("backtest")(backtest.backtest)
app.command("eval")(eval.eval_command)
app.command("chaos")(chaos.chaos)


def main() -> None:
    app()
