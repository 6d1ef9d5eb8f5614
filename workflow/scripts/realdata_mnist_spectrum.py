"""Exact Hessian spectrum of one trained MNIST MLP (dense, or Lanczos edges when too large)."""
from nnspectra.curvature.spectrum import SpectrumSettings, hessian_spectrum, spectrum_arrays
from nnspectra.data.vision import mnist_subset, resolve_data_dir
from nnspectra.experiments.sagun2018.mnist_training import MlpModel, MnistData, build_mlp
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import load_model, save_arrays
from nnspectra.pipeline.step import Step
from nnspectra.training.evaluate import cross_entropy

with Step.from_namespace(snakemake) as step:  # noqa: F821
    cfg, width = step.params["cfg"], int(step.wildcards["width"])
    device = step.use_device(cfg["device"])
    data = settings(MnistData, cfg["realdata.mnist.data"])
    x, y = mnist_subset(resolve_data_dir(cfg["data_dir"]), cfg["download"], data.per_class, data.subset_seed,
                        data.image_size)
    x = x.reshape(len(x), -1)
    model = load_model(build_mlp(x.shape[1], width, settings(MlpModel, cfg["realdata.mnist.model"]), step.seed),
                       step.input["model"])
    spec = hessian_spectrum(model, cross_entropy, x, y, settings(SpectrumSettings, cfg["realdata.mnist.curvature"]),
                            cfg["memory_budget_gb"], step.seed, device)
    save_arrays(step.output["spectrum"], width=width, **spectrum_arrays(spec))
    step.extra.update(method=spec["method"], method_reason=spec["method_reason"], n_params=spec["n_params"], hvps=spec["hvps"])
