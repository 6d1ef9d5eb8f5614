"""The workflow front doors of the ``nnspectra`` command: ``run`` (any Snakemake command line) and ``analyze``
(the studies of a config file's ``analyze.studies``, i.e. ``snakemake analyze``). Both are thin: they check
what can be checked in one line, then run the same workflow through ``python -m snakemake``.

    nnspectra analyze --configfile study.yaml [--cores N] [--study NAME ...] [snakemake arguments...]
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence
from pathlib import Path

from nnspectra.errors import ConfigError, NnspectraError
from nnspectra.pipeline.config import REPO_ROOT

ANALYZE_EXAMPLE = "config/analyze.yaml"


def workflow_dir(cwd: str | Path = ".") -> Path:
    """Where the workflow runs: ``cwd`` if it holds a Snakefile (a checkout), else this package's checkout."""
    cwd = Path(cwd)
    return cwd if (cwd / "Snakefile").is_file() else REPO_ROOT


def analyze_arguments(argv: Sequence[str], cwd: str | Path = ".") -> tuple[list[str], Path]:
    """(the Snakemake command line, the folder to run it in) for ``nnspectra analyze argv``.

    Raises :class:`ConfigError` (one line) when the config files define no study, or ``--study`` names one
    they do not define (with the closest name)."""
    from nnspectra.cli import resolve_config

    parser = argparse.ArgumentParser(prog="nnspectra analyze", description=(
        "Run the spectral analyses of every study in the config files' analyze.studies (snakemake analyze; "
        f"docs/analyze.md). Example: nnspectra analyze --configfile {ANALYZE_EXAMPLE} --cores 2. Arguments it "
        "does not know go to snakemake unchanged (e.g. -n, --report report.html)."))
    parser.add_argument("--configfile", nargs="+", required=True, metavar="FILE",
                        help="config files defining analyze.studies (merged over config/config.yaml)")
    parser.add_argument("--cores", default="1", help="snakemake --cores (default 1)")
    parser.add_argument("--study", action="append", default=[], metavar="NAME",
                        help="run only this study (target analyze_NAME); repeat for several (default: all + summary)")
    args, rest = parser.parse_known_args(list(argv))
    work = workflow_dir(cwd)
    files = [str(Path(cwd, f).resolve()) for f in args.configfile]
    for given, path in zip(args.configfile, files):
        if not Path(path).is_file():
            raise ConfigError(f"config file {given} not found; check the path given to --configfile")
    studies = resolve_config(files, base=work / "config" / "config.yaml")["analyze"]["studies"]
    if not studies:
        raise ConfigError(f"{' '.join(args.configfile)} define(s) no study under analyze.studies; add one "
                          f"(see {ANALYZE_EXAMPLE} and docs/analyze.md)")
    for name in args.study:
        if name not in studies:
            close = difflib.get_close_matches(name, list(studies), n=1)
            raise ConfigError(f"--study '{name}' is not a study of analyze.studies"
                              + (f"; did you mean '{close[0]}'?" if close else f" (studies: {', '.join(studies)})"))
    targets = [f"analyze_{name}" for name in args.study] or ["analyze"]
    return [*targets, "--cores", str(args.cores), "--configfile", *files, *rest], work


def workflow_command(argv: Sequence[str]) -> int:
    """``nnspectra run ...`` or ``nnspectra analyze ...``: Snakemake's exit code, or 2 with one line on stderr."""
    from nnspectra.pipeline.snakemake_cli import run_snakemake

    command, args = argv[0], list(argv[1:])
    try:
        if command == "analyze":
            args, work = analyze_arguments(args)
            print(f"nnspectra analyze: snakemake {' '.join(args)} (in {work})", file=sys.stderr, flush=True)
            return run_snakemake(args, cwd=work)
        return run_snakemake(args)
    except NnspectraError as err:
        print(f"nnspectra {command}: {err}", file=sys.stderr)
        return 2
