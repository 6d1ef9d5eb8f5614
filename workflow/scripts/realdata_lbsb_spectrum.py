"""Hessian edges (top and bottom eigenvalues) of the LB or SB convnet end point."""
from nnspectra.curvature.spectrum import LbsbSpectrumSettings, hessian_spectrum, spectrum_arrays
from nnspectra.data.vision import mnist_subset, resolve_data_dir
from nnspectra.experiments.sagun2018.lbsb_training import ConvnetModel, build_convnet
from nnspectra.experiments.sagun2018.mnist_training import MnistData
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import load_model, save_arrays
from nnspectra.pipeline.step import Step
from nnspectra.training.evaluate import cross_entropy

with Step.from_namespace(snakemake) as step:  # noqa: F821
    cfg, regime = step.params["cfg"], step.wildcards["regime"]
    device = step.use_device(cfg["device"])
    data = settings(MnistData, cfg["realdata.lbsb.data"])
    x, y = mnist_subset(resolve_data_dir(cfg["data_dir"]), cfg["download"], data.per_class, data.subset_seed,
                        data.image_size)
    model = load_model(build_convnet(x.shape[-1], settings(ConvnetModel, cfg["realdata.lbsb.model"]), step.seed),
                       step.input["model"])
    spec = hessian_spectrum(model, cross_entropy, x, y, settings(LbsbSpectrumSettings, cfg["realdata.lbsb.curvature"]),
                            cfg["memory_budget_gb"], step.seed, device)
    save_arrays(step.output["spectrum"], regime=regime, **spectrum_arrays(spec))
    step.extra.update(method=spec["method"], method_reason=spec["method_reason"], n_params=spec["n_params"], hvps=spec["hvps"])
