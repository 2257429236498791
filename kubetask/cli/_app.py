"""The root Typer app, whose click group turns every error into one line on stderr.

Typer prints click's errors in a rich panel over several lines; `KubetaskGroup.main` runs click
in non-standalone mode instead and prints `error: <message>` itself, keeping click's exit codes
(2 for usage errors) and ours (`kubetask.cli._errors`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import typer
from typer._click import exceptions as click_errors  # typer >= 0.2x vendors click; these are its classes
from typer.core import TyperGroup

from ._errors import CliError, ExitCode


class KubetaskGroup(TyperGroup):
    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except CliError as e:
            _fail(e.message, e.exit_code)
        except click_errors.NoArgsIsHelpError as e:
            typer.echo(e.format_message(), err=True)  # the help, as typer prints it, exit 2
            sys.exit(e.exit_code)
        except click_errors.UsageError as e:
            hint = f" (see `{e.ctx.command_path} --help`)" if e.ctx is not None else ""
            _fail(f"{e.format_message()}{hint}", e.exit_code)
        except click_errors.ClickException as e:
            _fail(e.format_message(), e.exit_code)
        except typer.Abort:
            _fail("aborted", 130)
        sys.exit(rv if isinstance(rv, int) else ExitCode.OK)


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    sys.exit(code)


app = typer.Typer(
    cls=KubetaskGroup,
    help="kubetask: typed, validated tasks that run as Kubernetes pods.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """kubetask command line."""
