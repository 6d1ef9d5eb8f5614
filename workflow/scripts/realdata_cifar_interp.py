"""Loss and accuracy on the line between the CIFAR-10 Part I and Part II end points (seed Fig 10)."""
from nnspectra.data.vision import cifar_sets, resolve_data_dir
from nnspectra.experiments.sagun2018.cifar import (
    AlexNetModel, CifarData, CifarTrain, LineSettings, build_alexnet, interpolate_cifar,
)
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import load_model, save_table
from nnspectra.pipeline.step import Step
from nnspectra.training.interpolation import paper_alphas

with Step.from_namespace(snakemake) as step:  # noqa: F821
    cfg = step.params["cfg"]
    device = step.use_device(cfg["device"])
    data, line = settings(CifarData, cfg["realdata.cifar.data"]), settings(LineSettings, cfg["realdata.cifar.interpolation"])
    sets = cifar_sets(resolve_data_dir(cfg["data_dir"]), cfg["download"], not data.skip_archive_md5, data.n_train,
                      data.n_test, data.subset_seed)
    model = settings(AlexNetModel, cfg["realdata.cifar.model"])
    a = load_model(build_alexnet(model, step.seed), step.input["part1"])
    b = load_model(build_alexnet(model, step.seed), step.input["part2"])
    alphas = paper_alphas(line.alpha_min, line.alpha_max, line.points)
    eval_batch = settings(CifarTrain, cfg["realdata.cifar.train"]).eval_batch
    save_table(interpolate_cifar(sets, a, b, alphas, eval_batch, device), step.output["interp"])
