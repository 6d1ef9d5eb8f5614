"""P0 Fig 1: final-Hessian eigenvalue histograms of the MNIST nets, with the smallest net's Hessian as a heatmap."""
from nnspectra.experiments.sagun2016.predecessor import hidden_name
from nnspectra.pipeline.io import load_arrays
from nnspectra.pipeline.step import Step
from nnspectra.plotting.sagun2016.predecessor import plot_fig1

with Step.from_namespace(snakemake) as step:  # noqa: F821
    runs = sorted(map(load_arrays, step.input["spectra"]), key=lambda r: int(r["n_params"]))
    spectra = {f"{hidden_name(r['sizes'][1:-1])} hidden, P={int(r['n_params']):,}": r["eig_final"] for r in runs}
    first = runs[0]
    heat = first.get("heatmap_final")
    p = int(first["n_params"])
    label = f"(P={p:,}, means of {-(-p // heat.shape[0])}² blocks)" if heat is not None and heat.shape[0] < p else ""
    plot_fig1(spectra, heat, step.output["fig"], step.params["setting"], heatmap_label=label or f"(P={p:,})",
              heatmap_params=p)
