"""Hessian spectral density (SLQ), trace and top eigenvalues of a CIFAR-10 AlexNet end point (Part I or II)."""
from nnspectra.data.vision import cifar_sets, resolve_data_dir
from nnspectra.experiments.sagun2018.cifar import AlexNetModel, CifarData, build_alexnet
from nnspectra.experiments.sagun2018.cifar_density import DensitySettings, curvature_density, sample_images
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import load_model, save_arrays
from nnspectra.pipeline.step import Step
from nnspectra.training.evaluate import cross_entropy

with Step.from_namespace(snakemake) as step:  # noqa: F821
    cfg, part = step.params["cfg"], int(step.wildcards["part"])
    device = step.use_device(cfg["device"])
    data, dens = settings(CifarData, cfg["realdata.cifar.data"]), settings(DensitySettings, cfg["realdata.cifar.density"])
    sets = cifar_sets(resolve_data_dir(cfg["data_dir"]), cfg["download"], not data.skip_archive_md5, data.n_train,
                      data.n_test, data.subset_seed)
    x, y = sample_images(sets["x_train"], sets["y_train"], dens.n_samples, dens.seed)
    model = load_model(build_alexnet(settings(AlexNetModel, cfg["realdata.cifar.model"]), step.seed), step.input["model"])
    out = curvature_density(model, cross_entropy, x, y, dens, device)
    save_arrays(step.output["density"], part=part, **out)
    step.extra.update(part=part, n_params=int(out["n_params"]), products=int(out["products"]),
                      top_converged=bool(out["top_converged"]))
