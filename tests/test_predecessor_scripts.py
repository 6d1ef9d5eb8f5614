"""The draft P0 workflow scripts (workflow/scripts/predecessor_*.py) run end to end at toy scale.

The rules are not wired yet (issue 16); :func:`run_p0_dag` plays Snakemake's part: it validates a
config (so the draft schema's defaults are used), then runs every script in DAG order with a
namespace carrying the inputs, outputs, params and wildcards its rule would pass.
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from fakedata import write_fake_mnist

from nnspectra.experiments.sagun2016.predecessor import hidden_name
from nnspectra.pipeline.config import config_subset, validate_config

SCRIPTS = Path(__file__).resolve().parents[1] / "workflow" / "scripts"
KEYS = [f"predecessor.{k}" for k in ("seeds", "model", "train", "blobs", "mnist", "fig4", "fig6", "fig7", "fig8",
                                     "plot")] + ["data_dir", "download", "device"]


def _run(script: str, out: Path, name: str, cfg: dict[str, Any], *, inputs: dict[str, Any] | None = None,
         outputs: dict[str, str], wildcards: dict[str, Any] | None = None, setting: str = "",
         reuse: bool = False) -> None:
    if reuse and all((out / v).is_file() for v in outputs.values()):
        return
    ns = SimpleNamespace(input=inputs or {}, output={k: str(out / v) for k, v in outputs.items()},
                         params={"cfg": cfg, "setting": setting}, wildcards=wildcards or {},
                         log=[str(out / "logs" / f"{name}.log")], threads=1, resources={}, rule=name)
    runpy.run_path(str(SCRIPTS / script), init_globals={"snakemake": ns}, run_name="__main__")


def run_p0_dag(config: dict[str, Any], out: Path, setting: str = "toy test", reuse: bool = False) -> dict[str, Path]:
    """Run every P0 step for ``config`` under ``out``; returns the figure and metric paths.

    ``reuse``: skip compute steps whose outputs exist (metrics and figures always rerun).
    """
    full = validate_config(config)
    cfg = config_subset(full, *KEYS)
    p = full["predecessor"]
    seeds, plot_seed = p["seeds"], p["plot"]["seed"]
    blobs, init, sphere, std = [], [], [], []
    for seed in seeds:
        for width in p["fig4"]["widths"]:
            rel = f"p0/blobs/n{width}/seed{seed}"
            _run("predecessor_blobs.py", out, f"blobs_{width}_{seed}", cfg, reuse=reuse, outputs={
                "run": f"{rel}/run.npz", "summary": f"{rel}/summary.json"}, wildcards={"seed": seed, "width": width})
            blobs.append(str(out / rel / "run.npz"))
        _run("predecessor_std.py", out, f"std_{seed}", cfg, reuse=reuse, outputs={"run": f"p0/fig7/seed{seed}.npz"},
             wildcards={"seed": seed})
        std.append(str(out / f"p0/fig7/seed{seed}.npz"))
        for inputs in ("mnist", "random"):
            hid = hidden_name(p["mnist"]["fig2"]["hidden"])
            rel = f"p0/mnist/init/{inputs}_{hid}/seed{seed}.npz"
            _run("predecessor_mnist.py", out, f"mnist_init_{inputs}_{seed}", cfg, reuse=reuse, outputs={"spectra": rel},
                 wildcards={"seed": seed, "inputs": inputs, "hidden": hid, "point": "init"})
            init.append(str(out / rel))
    for seed in p["fig6"]["seeds"]:
        _run("predecessor_sphere.py", out, f"sphere_{seed}", cfg, reuse=reuse, outputs={"run": f"p0/fig6/seed{seed}.npz"},
             wildcards={"seed": seed})
        sphere.append(str(out / f"p0/fig6/seed{seed}.npz"))
    trained: dict[str, list[str]] = {"fig1": [], "fig2": []}
    jobs = [("fig1", "mnist", [w] * k) for w in p["mnist"]["fig1"]["widths"] for k in p["mnist"]["fig1"]["hidden_layers"]]
    jobs += [("fig2", inputs, p["mnist"]["fig2"]["hidden"]) for inputs in ("mnist", "random")]
    for fig, inputs, hidden in jobs:
        rel = f"p0/mnist/trained/{inputs}_{hidden_name(hidden)}/seed{plot_seed}.npz"
        if not (out / rel).exists():
            _run("predecessor_mnist.py", out, f"mnist_trained_{inputs}_{hidden_name(hidden)}", cfg, reuse=reuse,
                 outputs={"spectra": rel}, wildcards={"seed": plot_seed, "inputs": inputs,
                                                      "hidden": hidden_name(hidden), "point": "trained"})
        trained[fig].append(str(out / rel))
    _run("predecessor_interp.py", out, "interp", cfg, reuse=reuse, outputs={"profiles": "p0/fig8/profiles.npz"})
    _run("predecessor_metrics.py", out, "metrics", cfg, outputs={"metrics": "metrics/p0.json"},
         inputs={"blobs": blobs, "sphere": sphere, "std": std, "init": init})
    plot_blobs = [b for b in blobs if f"/seed{plot_seed}/" in b]
    _run("predecessor_fig1.py", out, "fig1", cfg, inputs={"spectra": trained["fig1"]},
         outputs={"fig": "figures/p0_fig1.png"}, setting=setting)
    _run("predecessor_fig2.py", out, "fig2", cfg, inputs={"spectra": trained["fig2"]},
         outputs={"fig": "figures/p0_fig2.png"}, setting=setting)
    _run("predecessor_fig45.py", out, "fig45", cfg, inputs={"runs": plot_blobs},
         outputs={"fig4": "figures/p0_fig4.png", "fig5": "figures/p0_fig5.png"}, setting=setting)
    _run("predecessor_fig6.py", out, "fig6", cfg, inputs={"runs": sphere}, outputs={"fig": "figures/p0_fig6.png"},
         setting=setting)
    _run("predecessor_fig7.py", out, "fig7", cfg, inputs={"run": std[seeds.index(plot_seed)]},
         outputs={"fig": "figures/p0_fig7.png"}, setting=setting)
    _run("predecessor_fig8.py", out, "fig8", cfg, inputs={"profiles": str(out / "p0/fig8/profiles.npz")},
         outputs={"fig": "figures/p0_fig8.png"}, setting=setting)
    paths = {f"fig{i}": out / f"figures/p0_fig{i}.png" for i in (1, 2, 4, 5, 6, 7, 8)}
    paths["metrics"] = out / "metrics/p0.json"
    return paths


TOY = {
    "download": False,
    "device": "cpu",
    "predecessor": {
        "seeds": [0, 1],
        "train": {"max_iterations": 150, "lr": 0.5},
        "blobs": {"n_per_blob": 10},
        "mnist": {"per_class": 3, "image_size": 6, "max_iterations": 5, "heatmap_side": 20,
                  "fig1": {"widths": [2, 3], "hidden_layers": [1, 2]}, "fig2": {"hidden": [3, 3]}},
        "fig4": {"widths": [2, 3], "heatmap_widths": [2, 3]},
        "fig6": {"width": 3, "n_inits": 6, "seeds": [0], "snapshot_tols": [0.1]},
        "fig7": {"width": 3},
        "fig8": {"width": 3, "steps": 10, "batch_size": 5, "n_alphas": 5},
    },
}


@pytest.mark.slow
def test_draft_scripts_run_end_to_end(tmp_path: Path) -> None:
    write_fake_mnist(tmp_path / "data", n_per_class=4)
    paths = run_p0_dag({**TOY, "data_dir": str(tmp_path / "data")}, tmp_path / "results")
    for name, path in paths.items():
        assert path.is_file(), name
        assert Path(str(path) + ".prov.json").is_file(), name
    metrics = json.loads(paths["metrics"].read_text())
    assert set(metrics) == {"isolated_pair_widths", "lambda_max_mode", "lambda_max_mass_in_band",
                            "lambda_max_monotone_in_std", "lambda_max_ratio_std1_std02", "init_width_ratio_mnist_random"}
    assert metrics["isolated_pair_widths"]["seeds"] == [0, 1] and metrics["lambda_max_mode"]["seeds"] == [0]
    assert all(v <= 2 for v in metrics["isolated_pair_widths"]["values"])  # only 2 widths ran here
    sphere = np.load(tmp_path / "results/p0/fig6/seed0.npz")
    assert sphere["lambda_max"].shape == (6,) and sphere["lambda_max_at_tol"].shape == (1, 6)
