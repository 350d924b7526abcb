# Copyright (c) mmmae contributors. All rights reserved.
"""What every command-line tool of mmmae does around its work.

The tools in ``tools/`` are argparse wrappers; their ``main`` is::

    def main(argv=None) -> int:
        args = parse_args(argv)
        return run_cli(lambda: convert_something(...), ConversionError)

so that an expected failure (a bad file, a refused conversion) ends the
command with one line naming the fault instead of a traceback, and every
other exception still shows its traceback.
"""
import sys
from typing import Callable, Optional, Tuple, Type, Union

ErrorTypes = Union[Type[BaseException], Tuple[Type[BaseException], ...]]


def run_cli(work: Callable[[], Optional[int]],
            errors: ErrorTypes,
            status: int = 1,
            prefix: str = 'ERROR: ',
            suffix: str = '') -> int:
    """Run ``work`` and turn an expected error into one line on stderr.

    Args:
        work: The tool's work; an ``int`` it returns is the exit status,
            anything else (None, the work's result) means 0.
        errors: The exception type(s) that are the user's input at fault;
            their message must name the file or value and the fix.
        status: Exit status when one of ``errors`` is raised.
        prefix: Printed before the message.
        suffix: Printed after the message, e.g. ``' (nothing written)'``.

    Returns:
        int: ``work``'s exit status, or ``status`` after an expected error.
    """
    try:
        result = work()
    except errors as exc:
        print(f'{prefix}{exc}{suffix}', file=sys.stderr)
        return status
    return result if isinstance(result, int) else 0


def run_input_tool(parse_args: Callable, argv: Optional[list],
                   work: Callable, tag: str) -> int:
    """The ``main`` of a tool that reads inputs a user names (configs,
    checkpoints, data): argparse's own exits become the exit status (0 for
    ``--help``, 2 for a bad option), and an ``InputError`` or a missing file
    prints one ``{tag} error: ...`` line and returns 2.

    Args:
        parse_args: The tool's parser, called with ``argv``.
        argv: The command line (None: ``sys.argv[1:]``).
        work: Called with the parsed arguments.
        tag: The tool's log prefix, e.g. ``'[visualize]'``.

    Returns:
        int: The exit status.
    """
    try:
        args = parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    from mmmae.apis import InputError
    return run_cli(lambda: work(args), (InputError, FileNotFoundError),
                   status=2, prefix=f'{tag} error: ')


def add_device_and_cfg_options(parser) -> None:
    """Add the ``--device`` and ``--cfg-options`` options every tool that
    builds a model from a config takes."""
    from mmengine.config import DictAction
    parser.add_argument(
        '--device', default=None,
        help='e.g. cpu or cuda:0 (default: cuda:0 if available)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
