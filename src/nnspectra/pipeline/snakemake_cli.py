"""Rewrite a Snakemake command line into one Snakemake 9's own CLI accepts (``nnspectra run``).

Snakemake's CLI parses ``--config`` and ``--configfile`` before it reads the Snakefile, so three
common command lines fail there with tracebacks no Snakefile code can intercept:

* ``--config blobs.train.lr=0.05``: dotted keys are refused ("Config entry must start with a valid
  identifier", snakemake/snakemake#3907). We send the nested form Snakemake accepts,
  ``blobs={"train": {"lr": "0.05"}}``, one entry per section; the Snakefile's ``validate_config``
  types the string leaves by the schema, exactly as for a hand-written nested entry.
* ``--configfile config/smoke.yaml fig3``: ``--configfile`` (like ``--config``, ``--quiet`` and the
  ``NAME=VALUE`` resource options) takes several values, so a target after it is read as a config
  file. Targets found there are moved to the front of the command line.
* a missing ``--configfile`` (26-line traceback) or one with a YAML error (no file, no line): each
  config file is checked first and a problem is one line naming the file and line.
* ``--cores 0`` or ``--jobs 0``: Snakemake 9 accepts them and then waits forever for a free core; such a
  count (or a negative one, or a non-number) is one line, exit 2 (:func:`check_counts`; the Snakefile applies
  :func:`impossible_count` to what Snakemake parsed, for a plain ``snakemake --cores 0``).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nnspectra.errors import ConfigError
from nnspectra.pipeline.config import load_config_files

CONFIG_SUFFIXES = (".yaml", ".yml", ".json")
CONFIGFILE_OPTIONS = ("--configfile", "--configfiles")
CONFIG_OPTIONS = ("--config", "-C")
# options whose values are all NAME=VALUE: a value without '=' is a target they swallowed
KEY_VALUE_OPTIONS = CONFIG_OPTIONS + ("--resources", "--res", "--default-resources", "--default-res",
                                      "--set-threads", "--set-resources", "--set-scatter", "--set-resource-scopes",
                                      "--consider-ancient")
# options with several values from a fixed list (Snakemake 9.27): any other value is a target
CHOICE_OPTIONS: dict[str, frozenset[str]] = {
    **dict.fromkeys(("--quiet", "-q"), frozenset({"all", "host", "progress", "reason", "rules"})),
    "--rerun-triggers": frozenset({"code", "input", "mtime", "params", "software-env"}),
    **dict.fromkeys(("--software-deployment-method", "--deployment-method", "--deployment", "--sdm"),
                    frozenset({"apptainer", "conda", "env-modules"})),
}
# of those, the ones that need at least one value (the others also stand alone)
NEEDS_VALUE = frozenset(set(CONFIGFILE_OPTIONS + KEY_VALUE_OPTIONS + tuple(CHOICE_OPTIONS))
                        - {"--config", "-C", "--default-resources", "--default-res", "--quiet", "-q"})
SNAKEFILE_NAMES = ("Snakefile", "snakefile", "workflow/Snakefile", "workflow/snakefile")
_RULE = re.compile(r"^\s*(?:local)?rule\s+(\w+)\s*:", re.M)
_INCLUDE = re.compile(r"""^\s*include:\s*["']([^"']+)["']""", re.M)
_KEY_PART = re.compile(r"[A-Za-z_][\w-]*$")
_MAX_CONFIG_BYTES = 1_000_000


@dataclass
class Rewritten:
    """The rewritten argument list, and what was changed (one human-readable note per change)."""

    args: list[str]
    notes: list[str] = field(default_factory=list)


def rule_names(snakefile: str | Path) -> set[str]:
    """Names of the rules in ``snakefile`` and the files it includes (read as text, not executed)."""
    names: set[str] = set()
    todo, seen = [Path(snakefile)], set()
    while todo:
        path = todo.pop()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        text = path.read_text(errors="replace")
        names |= set(_RULE.findall(text))
        todo += [path.parent / inc for inc in _INCLUDE.findall(text)]
    return names


def _snakefile(args: Sequence[str], cwd: Path) -> Path | None:
    for i, arg in enumerate(args):
        if arg in ("-s", "--snakefile") and i + 1 < len(args):
            return cwd / args[i + 1]
        if arg.startswith("--snakefile="):
            return cwd / arg.split("=", 1)[1]
    return next((cwd / n for n in SNAKEFILE_NAMES if (cwd / n).is_file()), None)


def _reads_as_config(path: Path) -> bool:
    """An existing file without a config suffix counts as a config file if it is a small YAML mapping."""
    if path.stat().st_size > _MAX_CONFIG_BYTES:
        return False
    try:
        return isinstance(yaml.safe_load(path.read_text()), dict)
    except (yaml.YAMLError, UnicodeDecodeError):
        return False


def _is_configfile(value: str, cwd: Path, rules: set[str]) -> bool:
    """Whether a value after ``--configfile`` is meant as a config file (True) or a target (False)."""
    path = cwd / value
    if Path(value).suffix.lower() in CONFIG_SUFFIXES:
        return True
    if path.is_file():
        return _reads_as_config(path)
    if value in rules or "/" in value:  # a rule name, or an output path to build
        return False
    close = difflib.get_close_matches(value, sorted(rules), n=1)
    hint = f"; did you mean the rule '{close[0]}'?" if close else (
        f" (rules: {', '.join(sorted(rules)[:10])}, ...)" if rules else "")
    raise ConfigError(f"'{value}' after --configfile is neither an existing config file nor a rule of the workflow"
                      + hint)


def check_configfile(value: str, cwd: Path) -> None:
    """Stop with one line naming the file (and the line of a YAML error) unless it exists and parses."""
    path = cwd / value
    if not path.is_file():
        raise ConfigError(f"config file {value} not found; check the path given to --configfile")
    load_config_files([path])  # one line: "config file X line N is not valid YAML: ..."


def _leaf(raw: str) -> Any:
    """A dotted override's value as Snakemake would see it inside a nested entry: strings, which the
    Snakefile types by the schema; flow mappings and lists are opened so entries can merge."""
    if raw.lstrip().startswith(("{", "[")):
        try:
            return yaml.load(raw, Loader=yaml.BaseLoader)
        except yaml.YAMLError:
            pass
    return raw


def _set(tree: dict[str, Any], keys: list[str], value: Any) -> None:
    node = tree
    for key in keys[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[keys[-1]] = value


def dotted_override(entry: str) -> tuple[list[str], Any] | None:
    """``"blobs.train.lr=0.05"`` -> (["blobs", "train", "lr"], "0.05"); None for an undotted entry."""
    key, sep, raw = entry.partition("=")
    if not sep or "." not in key:
        return None
    keys = key.split(".")
    bad = [k for k in keys if not _KEY_PART.match(k)]
    if bad:
        raise ConfigError(f"--config '{entry}': '{key}' is not a dotted key of names (e.g. blobs.train.lr=0.05)")
    return keys, _leaf(raw)


def nest_config_entries(entries: Sequence[str]) -> list[str]:
    """``--config`` entries with dotted keys turned into nested ones, merged per section, order kept.

    ``["blobs.train.lr=0.05", "threads=2", "blobs.train.max_iterations=9"]`` ->
    ``['blobs={"train": {"lr": "0.05", "max_iterations": "9"}}', 'threads=2']``. An undotted entry for a
    section ends the merging for it (Snakemake merges repeated sections itself, later ones winning).
    """
    out: list[str | tuple[str, dict[str, Any]]] = []
    for entry in entries:
        parsed = dotted_override(entry)
        if parsed is None:
            out.append(entry)
            continue
        keys, value = parsed
        section = keys[0]
        last = next((item for item in reversed(out)
                     if (item[0] if isinstance(item, tuple) else item.partition("=")[0]) == section), None)
        if isinstance(last, tuple):
            _set(last[1], keys[1:], value)
        else:
            tree: dict[str, Any] = {}
            _set(tree, keys[1:], value)
            out.append((section, tree))
    return [item if isinstance(item, str) else f"{item[0]}={json.dumps(item[1], ensure_ascii=False)}"
            for item in out]


# options that take a count of cores or jobs: Snakemake accepts 0 and negative values, then never starts a job
COUNT_OPTIONS = {"--cores": "all", "-c": "all", "--jobs": "unlimited", "-j": "unlimited", "--local-cores": None,
                 "--max-threads": None}


def impossible_count(option: str, value: object) -> str | None:
    """One line saying why ``value`` cannot be the count ``option`` asks for, or None when it is fine."""
    word = COUNT_OPTIONS.get(option)
    if value is None or (word is not None and value in ("all", word)):
        return None
    try:
        number = int(str(value))
    except ValueError:
        number = None
    if number is not None and number >= 1:
        return None
    allowed = "a whole number of at least 1" + (f" or '{word}'" if word else "") + (" or 'all'" if word == "unlimited" else "")
    return (f"{option} {value} is impossible: give {allowed}"
            + (" (with 0 Snakemake starts no job and waits forever)" if number == 0 else ""))


def check_counts(args: Sequence[str]) -> None:
    """Raise :class:`ConfigError` (one line) for an impossible ``--cores``/``--jobs``/... value in ``args``."""
    for i, arg in enumerate(args):
        option, value = arg, None
        if arg.startswith("--") and "=" in arg:
            option, value = arg.split("=", 1)
        elif arg[:2] in ("-c", "-j") and len(arg) > 2 and not arg.startswith("--"):
            option, value = arg[:2], arg[2:]
        elif arg in COUNT_OPTIONS and i + 1 < len(args) and not args[i + 1].startswith("--"):
            value = args[i + 1]
        if option in COUNT_OPTIONS and value is not None:
            problem = impossible_count(option, value)
            if problem:
                raise ConfigError(problem)


def _option_values(args: Sequence[str], start: int) -> int:
    """Index after the values of the multi-value option at ``start - 1`` (up to the next option)."""
    end = start
    while end < len(args) and not (args[end].startswith("-") and len(args[end]) > 1):
        end += 1
    return end


def rewrite_snakemake_args(args: Sequence[str], cwd: str | Path = ".") -> Rewritten:
    """The command line for ``python -m snakemake`` that does what ``args`` mean (see the module doc).

    Raises :class:`ConfigError` (one line) for a missing or unparsable config file, a value after
    ``--configfile`` that is neither a config file nor a target, or an impossible core or job count.
    """
    cwd = Path(cwd)
    args = list(args)
    check_counts(args)
    snakefile = _snakefile(args, cwd)
    rules = rule_names(snakefile) if snakefile is not None else set()
    targets: list[str] = []
    out: list[str] = []
    notes: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if eq and name in CONFIGFILE_OPTIONS:
            check_configfile(inline, cwd)
        if eq and name in CONFIG_OPTIONS:
            nested = nest_config_entries([inline])[0]
            notes += [f"--config {inline} -> {nested}"] if nested != inline else []
            out.append(f"{name}={nested}")
            i += 1
            continue
        if eq or arg not in (*CONFIGFILE_OPTIONS, *KEY_VALUE_OPTIONS, *CHOICE_OPTIONS):
            out.append(arg)
            i += 1
            continue
        end = _option_values(args, i + 1)
        values = args[i + 1:end]
        if arg in CONFIGFILE_OPTIONS:
            kept = [v for v in values if _is_configfile(v, cwd, rules)]
            for value in kept:
                check_configfile(value, cwd)
        elif arg in CHOICE_OPTIONS:
            kept = [v for v in values if v in CHOICE_OPTIONS[arg]]
        else:
            kept = [v for v in values if "=" in v]
        moved = [v for v in values if v not in kept]
        if moved:
            notes.append(f"target(s) {' '.join(moved)} moved before {arg} (it takes several values)")
            targets += moved
            if not kept and arg in NEEDS_VALUE:
                raise ConfigError(f"{arg} is followed by no value of its own ({' '.join(moved)} is a target); "
                                  f"give it a value or drop it")
        if arg in CONFIG_OPTIONS:
            nested = nest_config_entries(kept)
            if nested != kept:
                notes.append(f"--config {' '.join(kept)} -> {' '.join(nested)}")
            kept = nested
        out += [arg, *kept]
        i = end
    return Rewritten(args=targets + out, notes=notes)


def run_snakemake(args: Sequence[str], cwd: str | Path = ".") -> int:
    """``python -m snakemake`` in ``cwd`` with ``args`` made acceptable to Snakemake's CLI (dotted ``--config``
    keys nested, targets moved out of multi-value options, config files checked first); its exit code."""
    import shlex
    import subprocess
    import sys

    if list(args[:1]) in (["-h"], ["--help"]):
        print(RUN_HELP)
    rewritten = rewrite_snakemake_args(args, cwd)
    command = [sys.executable, "-m", "snakemake", *rewritten.args]
    for note in rewritten.notes:
        print(f"nnspectra run: {note}", file=sys.stderr)
    if rewritten.notes:
        print(f"nnspectra run: snakemake {shlex.join(rewritten.args)}", file=sys.stderr, flush=True)
    proc = subprocess.Popen(command, cwd=cwd)
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:  # Ctrl-C reached Snakemake too (same process group): let it clean up
            continue


RUN_HELP = ("nnspectra run [snakemake arguments...]: runs `python -m snakemake` with the same arguments, except that "
            "dotted --config keys (blobs.train.lr=0.05) are sent nested, targets written after --configfile/--config "
            "are moved before them, and every --configfile is checked first (one line naming file and line). "
            "Snakemake's own help follows.\n")
