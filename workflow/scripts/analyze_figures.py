"""The figure set of one study: top spectrum vs C, densities, per-block curvature, lambda_max over training."""
import pandas as pd

from nnspectra.pipeline.io import load_arrays, load_json
from nnspectra.pipeline.step import Step
from nnspectra.plotting.analyze import plot_blocks, plot_densities, plot_lambda_max, plot_top_spectrum

with Step.from_namespace(snakemake) as step:  # noqa: F821
    rec, arr = load_json(step.input["record"]), load_arrays(step.input["arrays"])
    blocks = pd.read_csv(step.input["blocks"], keep_default_na=False)
    name = f"{rec['study']}: {rec['model']['name'].split(':')[-1]} on {rec['dataset']['name']} (N = {rec['dataset']['n_samples']})"
    h = rec["curvature"]["H"]
    plot_top_spectrum(arr["H_top"], arr["GN_top"], h["outliers"]["rules"]["gap"]["cutoff"], rec["dataset"]["n_classes"],
                      step.output["spectrum"], title=f"{name}\nlargest eigenvalues ({rec['curvature']['method']})")
    plot_densities(arr["H_grid"], arr["H_density"], arr["H_density_per_probe"], arr["GN_grid"], arr["GN_density"],
                   arr["GN_density_per_probe"], step.output["density"], title=f"{name}\nspectral density (SLQ)")
    hb = blocks[blocks["matrix"] == "H"]
    top1 = [float(str(t).split()[0]) if str(t).strip() else float("nan") for t in hb["top"]]
    plot_blocks([f"{b} ({t})" if t != "parameter" else str(b) for b, t in zip(hb["block"], hb["type"])], hb["trace"].to_numpy(float), hb["trace_stderr"].to_numpy(float), top1,
                step.output["blocks"], title=f"{name}\ncurvature per block of H")
    snap = rec.get("snapshots")
    if snap:
        plot_lambda_max(snap["steps"], snap["lambda_max"], snap["two_over_lr"], step.output["lambda_max"],
                        title=f"{name}\n" + r"$\lambda_{max}$ during training")
    else:
        plot_lambda_max([0], [h["lambda_max"]], None, step.output["lambda_max"], title=f"{name}\n" + r"$\lambda_{max}$")
