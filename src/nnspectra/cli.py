"""The ``nnspectra`` command: audit cached results, print the scorecard, validate a config, report timings.

    nnspectra audit [targets] [--configfile config/smoke.yaml] [--config blobs.train.lr=0.1] [--results results/smoke]
    nnspectra audit --repair [targets] [--configfile config/smoke.yaml] [--cores 4]   (rebuild what is bad, re-audit)
    nnspectra scorecard [--configfile config/smoke.yaml | --metrics-dir results/smoke/metrics] [--csv F --md F]
    nnspectra scorecard --results results/paper results/cpu      (merge trees; the first with a section wins)
    nnspectra scorecard --results results/paper --readme README.md   (the README's results tables, generated)
    nnspectra validate-config [--configfile config/smoke.yaml] [--config KEY=VALUE ...]
    nnspectra compare results/smoke /elsewhere/results/smoke     (numeric outputs equal, byte for byte?)
    nnspectra timings [--configfile config/smoke.yaml] [--rule-prefix realdata_] [--since 2026-11-23T04:00]
    nnspectra status [targets] [--configfile config/cpu.yaml] [--cores 2]   (jobs done / total, time left)
    nnspectra --version
    nnspectra run [snakemake arguments...]   (snakemake, plus dotted --config keys and targets anywhere)
    nnspectra analyze --configfile study.yaml --cores 2 [--study NAME]   (snakemake analyze: your model, your data)

Config files are read like Snakemake reads them: ``config/config.yaml`` (the Snakefile's
``configfile:``) first, then each ``--configfile`` merged over it, then ``--config`` overrides
(dotted keys allowed, values parsed as YAML); the result is validated against ``workflow/schemas``.
Exit codes: 0 fine, 1 the audit found anything not ``ok`` (corrupt, incomplete, missing, leftover or stale
files; with ``--repair``: the tree is not clean afterwards), 2 bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from nnspectra import __version__
from nnspectra.pipeline.config import DEFAULT_SCHEMA_DIR, REPO_ROOT, load_config_files, validate_config
from nnspectra.errors import ConfigError, NnspectraError
from nnspectra.pipeline.provenance import SIDECAR_SUFFIX

DEFAULT_CONFIGFILE = Path("config") / "config.yaml"


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"a.b=0.1"`` -> (["a", "b"], 0.1); the value is parsed as YAML, as Snakemake's ``--config`` does."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--config '{text}' must look like KEY=VALUE (dotted keys allowed, e.g. blobs.train.lr=0.1)")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def resolve_config(configfiles: Sequence[str | Path] = (), overrides: Sequence[str] = (),
                   base: str | Path | None = None, schema_dir: str | Path = DEFAULT_SCHEMA_DIR) -> dict[str, Any]:
    """The validated config Snakemake would use for ``--configfile configfiles --config overrides``.

    ``base`` is the Snakefile's ``configfile:`` (default ``config/config.yaml`` in the current
    directory, else in the repository); it is read first and the others are merged over it.
    """
    if base is None:
        base = DEFAULT_CONFIGFILE if DEFAULT_CONFIGFILE.is_file() else REPO_ROOT / DEFAULT_CONFIGFILE
    files = [Path(base)] + [Path(f) for f in configfiles if Path(f).resolve() != Path(base).resolve()]
    config = load_config_files(files)
    for text in overrides:
        keys, value = parse_override(text)
        node = config
        for key in keys[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        node[keys[-1]] = value
    return validate_config(config, schema_dir)


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--configfile", nargs="+", default=[], metavar="FILE",
                        help="config files merged over config/config.yaml, as for snakemake --configfile")
    parser.add_argument("--config", nargs="+", default=[], metavar="KEY=VALUE", dest="overrides",
                        help="override config values (dotted keys allowed, values parsed as YAML)")


def _results_dir(args: argparse.Namespace, config: dict[str, Any] | None = None) -> Path:
    """``--results`` if given, else this config's tree ``results/<run_name>`` (presets never share one)."""
    if args.results:
        return Path(args.results)
    config = config if config is not None else resolve_config(args.configfile, args.overrides)
    return Path("results") / str(config["run_name"])


def _expected(args: argparse.Namespace, config: dict[str, Any], results: Path) -> dict[str, str] | None:
    """Files the DAG of the targets should hold, with their rules (``snakemake --summary``); None where that
    cannot be asked: ``--no-dag``, no Snakefile, or a ``--results`` tree other than the workflow's own."""
    from nnspectra.pipeline.repair import expected_outputs

    workdir = Path(args.directory)
    own_tree = (workdir / "results" / str(config["run_name"])).resolve() == results.resolve()
    if args.no_dag or not Path(args.snakefile).is_file() or not own_tree:
        if args.repair:
            raise ConfigError("--repair needs the workflow: run it in the folder holding the Snakefile (or pass "
                              "--snakefile and --directory), on the config's own results/<run_name> tree")
        return None
    found = expected_outputs(args.targets, args.configfile, args.overrides, args.snakefile, workdir)
    return {name: item.rule for name, item in found.items()}


def _cmd_audit(args: argparse.Namespace) -> int:
    from nnspectra.data.vision import resolve_data_dir
    from nnspectra.pipeline.audit import STALE, audit
    from nnspectra.pipeline.repair import (
        plan_repair, quarantine, rebuild, rebuild_command, remove_leftovers, shown, writable_or_raise)

    config = resolve_config(args.configfile, args.overrides)
    results = _results_dir(args, config)
    checked = None if args.no_config else config
    expected = _expected(args, config, results)
    workdir = Path(args.directory) if expected is not None else None
    data_root = resolve_data_dir(config.get("data_dir"))  # where the datasets are now (the stale-data check)
    report = audit(results, config=checked, expected=expected, workdir=workdir, data_root=data_root)
    print(report.to_text(only_problems=args.only_problems or args.repair, verbose=args.verbose), end="")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report.to_json(), indent=2))
    if not args.repair:
        return 0 if report.fresh else 1
    assert expected is not None
    plan = plan_repair(report, expected)
    if plan.empty and not plan.outside:
        print("repair: nothing to repair")
        return 0
    print(plan.describe(), flush=True)
    command = rebuild_command(args.targets, plan.forcerun, args.configfile, args.overrides, args.cores,
                              args.snakefile, args.directory, args.profile)
    if args.dry_run:
        print(f"repair (dry run, nothing changed): would move those aside, then run: {shown(command)}")
        return 1
    code = 0
    if not plan.empty:
        writable_or_raise(plan, args.directory)
        remove_leftovers(plan.delete, args.directory)
        folder = quarantine(plan.quarantine, args.directory)
        if folder is not None:
            print(f"repair: moved the untrusted files aside to {folder}", flush=True)
        if plan.forcerun:
            code = rebuild(command, args.directory)
        if code:
            print(f"repair: snakemake failed (exit {code}); its message is above", flush=True)
    expected = _expected(args, config, results)
    after = audit(results, config=checked, expected=expected, workdir=Path(args.directory), data_root=data_root)
    stale = [e.file for e in after.entries if e.status in STALE and e.file in (expected or {})]
    print(after.to_text(only_problems=True, verbose=args.verbose), end="")
    clean = code == 0 and after.ok and not stale
    print("repair: clean" if clean else "repair: NOT clean (see the rows above)")
    return 0 if clean else 1


def _cmd_scorecard(args: argparse.Namespace) -> int:
    from nnspectra.claims import CLAIMS_DIR
    from nnspectra.scorecard import build_scorecard, markdown

    if args.metrics_dir and args.results:
        raise ConfigError("give either --metrics-dir (metric folders) or --results (result trees), not both")
    if args.metrics_dir:
        folders = [Path(d) for d in args.metrics_dir]
    elif args.results:
        folders = [Path(r) / "metrics" for r in args.results]
    else:
        folders = [_results_dir(args) / "metrics"]
    for folder in folders:
        if (args.metrics_dir or args.results) and not folder.is_dir():
            raise ConfigError(f"metrics folder '{folder}' does not exist; run the pipeline for that preset first "
                              "or fix the path")
    # order = priority: a section found in several folders is read from the first one that has it
    metric_files = [p for folder in folders
                    for p in sorted(folder.glob("*.json")) if not p.name.endswith(SIDECAR_SUFFIX)]
    card = build_scorecard(metric_files, claims_dir=args.claims_dir or CLAIMS_DIR, setting=args.setting,
                           run_name=args.run_name)
    if args.csv or args.md:
        if not (args.csv and args.md):
            raise ConfigError("give both --csv and --md to write the scorecard, or neither to print it")
        card.write(args.csv, args.md)
    if args.readme_section or args.readme:
        from nnspectra.scorecard_readme import readme_section, replace_section

        trees = [str(t) for t in (args.results or args.metrics_dir or [folders[0].parent])]
        block = readme_section(card.frame, trees)
        if args.readme:
            readme = Path(args.readme)
            if not readme.is_file():
                raise ConfigError(f"--readme '{readme}' does not exist; give the README that holds the scorecard "
                                  "markers")
            readme.write_text(replace_section(readme.read_text(), block, str(readme)))
            print(f"scorecard tables of {', '.join(trees)} written into {readme}")
        else:
            print(block, end="")
        return 0
    print(markdown(card.frame, card.setting), end="")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from nnspectra.pipeline.compare import compare_trees

    for root in (args.a, args.b):
        if not Path(root).is_dir():
            raise ConfigError(f"results tree '{root}' does not exist")
    result = compare_trees(args.a, args.b, suffixes=tuple(args.suffix))
    for label, items in (("different", result.different), ("only in A", result.only_a), ("only in B", result.only_b)):
        for rel in items:
            print(f"{label}: {rel}")
    print(result.summary())
    return 0 if result.same else 1


def _cmd_validate_config(args: argparse.Namespace) -> int:
    config = resolve_config(args.configfile, args.overrides)
    print(yaml.safe_dump(config, sort_keys=False, default_flow_style=False), end="")
    return 0


def _cmd_timings(args: argparse.Namespace) -> int:
    from nnspectra.pipeline.timings import rule_timings, to_markdown

    results = _results_dir(args)
    if not results.is_dir():
        raise ConfigError(f"results directory '{results}' does not exist; run the pipeline first or pass --results")
    try:
        frame = rule_timings(results, args.rule_prefix, args.since)
    except ValueError:
        raise ConfigError(f"--since '{args.since}' is not a date-time; use ISO format, e.g. 2026-11-23T04:00") from None
    if args.csv:
        Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(args.csv, index=False)
    print(to_markdown(frame), end="")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from nnspectra.pipeline.progress import status_lines

    config = resolve_config(args.configfile, args.overrides)
    for line in status_lines(args.targets, args.configfile, args.overrides, Path("results") / str(config["run_name"]),
                             args.cores, args.snakefile, args.directory):
        print(line, flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of the subcommands (``run`` is dispatched before parsing: its arguments are Snakemake's)."""
    parser = argparse.ArgumentParser(prog="nnspectra", description="Audit cached results, print the replication "
                                     "scorecard, validate a config, report timings and progress, run the workflow.")
    parser.add_argument("--version", action="version", version=f"nnspectra {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("audit", help="check cached results against their provenance sidecars; --repair rebuilds")
    p.add_argument("targets", nargs="*", help="the run's targets (default: rule all); files their DAG should "
                   "make but lacks are listed as missing")
    p.add_argument("--results", default=None, help="results tree (default: results/<run_name> of the config)")
    _add_config_options(p)
    p.add_argument("--repair", action="store_true", help="move corrupt/untracked files aside and rebuild every "
                   "corrupt, missing and stale file and all made from it through snakemake; exit 0 only when clean")
    p.add_argument("--dry-run", action="store_true", help="with --repair: print the plan, change nothing")
    p.add_argument("--cores", default="1", help="with --repair: snakemake --cores (default 1)")
    p.add_argument("--profile", default=None, help="with --repair: snakemake --profile (e.g. a cluster profile)")
    p.add_argument("--snakefile", default="Snakefile", help="the workflow (default: ./Snakefile)")
    p.add_argument("--directory", default=".", help="Snakemake's working directory (default: .)")
    p.add_argument("--no-dag", action="store_true", help="do not ask snakemake which files should exist")
    p.add_argument("--no-config", action="store_true", help="skip the stale-config check")
    p.add_argument("--strict", action="store_true", help="(the default now) exit 1 when anything is not ok")
    p.add_argument("--verbose", "-v", action="store_true", help="the full table: step, seed, code, config, created, "
                   "where and every problem of each file (default: one line per file that fits the terminal)")
    p.add_argument("--only-problems", action="store_true", help="list only entries that are not ok")
    p.add_argument("--json", metavar="FILE", help="also write the full report as JSON")
    p.set_defaults(func=_cmd_audit)

    p = sub.add_parser("scorecard", help="evaluate the replication claims on the metrics files")
    p.add_argument("--metrics-dir", action="append", default=None, metavar="DIR",
                   help="folder of <section>.json metric files; repeat it to merge several (the first folder that "
                        "has a section wins; default: results/<run_name>/metrics of the config)")
    p.add_argument("--results", nargs="+", default=None, metavar="TREE",
                   help="result trees to merge, in priority order, e.g. results/paper results/cpu (their metrics/)")
    _add_config_options(p)
    p.add_argument("--claims-dir", default=None, help="folder of claim YAML files (default: the package's)")
    p.add_argument("--setting", default="", help="label of the setting the metrics were measured in")
    p.add_argument("--run-name", metavar="NAME", help="the run (scale) of hand-made metric files without a sidecar")
    p.add_argument("--csv", default=None, help="write the scorecard CSV here (with --md)")
    p.add_argument("--md", default=None, help="write the scorecard Markdown here (with --csv)")
    p.add_argument("--readme-section", action="store_true",
                   help="print the README's results tables (counts per paper, ids per status, fails with their "
                        "diagnoses, not_run reasons) instead of the scorecard")
    p.add_argument("--readme", default=None, metavar="FILE",
                   help="write those tables into FILE between its scorecard marker comments (e.g. README.md)")
    p.set_defaults(func=_cmd_scorecard)

    p = sub.add_parser("compare", help="compare the numeric outputs (.npz, .csv) of two results trees by sha256")
    p.add_argument("a", help="first results tree, e.g. results/smoke")
    p.add_argument("b", help="second results tree")
    p.add_argument("--suffix", nargs="+", default=[".npz", ".csv"], help="file endings compared (default .npz .csv)")
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("validate-config", help="validate config files and print the resolved config")
    _add_config_options(p)
    p.set_defaults(func=_cmd_validate_config)

    p = sub.add_parser("timings", help="wall/CPU time and peak memory per rule of the cached results")
    p.add_argument("--results", default=None, help="results tree (default: results/<run_name> of the config)")
    _add_config_options(p)
    p.add_argument("--rule-prefix", default="", help="only rules whose name starts with this (e.g. realdata_)")
    p.add_argument("--since", default=None, metavar="ISO_TIME",
                   help="only results created from then on (UTC unless an offset is given), e.g. one run")
    p.add_argument("--csv", default=None, help="also write the table as CSV here")
    p.set_defaults(func=_cmd_timings)

    p = sub.add_parser("status", help="progress of a run: jobs done / total of the target and the time left")
    p.add_argument("targets", nargs="*", help="the run's targets (default: rule all)")
    _add_config_options(p)
    p.add_argument("--cores", type=int, default=None,
                   help="cores the run uses, for the wall-time estimate (default: this machine's)")
    p.add_argument("--snakefile", default="Snakefile", help="the workflow (default: ./Snakefile)")
    p.add_argument("--directory", default=".", help="Snakemake's working directory (default: .)")
    p.set_defaults(func=_cmd_status)

    sub.add_parser("run", add_help=False, help="run snakemake; dotted --config keys and targets anywhere work")
    sub.add_parser("analyze", add_help=False, help="run the studies of analyze.studies: --configfile F --cores N")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nnspectra`` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["run"], ["analyze"]):  # their arguments belong to snakemake (analyze: its own few first)
        from nnspectra.cli_analyze import workflow_command

        return workflow_command(argv)
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except NnspectraError as err:
        print(f"nnspectra {args.command}: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a full disk or a read-only tree met outside the library's writers: one line
        from nnspectra.errors import storage_message

        print(f"nnspectra {args.command}: {storage_message(err, err.filename or '?')}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
