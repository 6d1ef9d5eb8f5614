"""CIFAR-10 bare AlexNet: Part I (large batch from init) or Part II (small batch from Part I), seed Fig 9."""
from pathlib import Path

from nnspectra.data.vision import cifar_sets, resolve_data_dir
from nnspectra.errors import DataNotFoundError
from nnspectra.experiments.sagun2018.cifar import AlexNetModel, CifarData, CifarTrain, build_alexnet, train_cifar_part
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import load_model, save_model, save_table
from nnspectra.pipeline.runtime import run_deadline
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    cfg, part = step.params["cfg"], int(step.params["part"])
    device = step.use_device(cfg["device"])
    data = settings(CifarData, cfg["realdata.cifar.data"])
    try:
        sets = cifar_sets(resolve_data_dir(cfg["data_dir"]), cfg["download"], not data.skip_archive_md5, data.n_train,
                          data.n_test, data.subset_seed)
    except DataNotFoundError as err:
        raise type(err)(f"{err}; or skip seed Figs 9-10 with realdata.cifar.enabled: false") from None
    model = build_alexnet(settings(AlexNetModel, cfg["realdata.cifar.model"]), step.seed)
    if part == 2:
        load_model(model, step.input["start"])
    Path(step.params["checkpoint"]).parent.mkdir(parents=True, exist_ok=True)
    history = train_cifar_part(sets, model, part, settings(CifarTrain, cfg["realdata.cifar.train"]), step.seed,
                               checkpoint_path=step.params["checkpoint"], device=device, deadline=run_deadline())
    save_model(model, step.output["model"], part=part, seed=step.seed)
    save_table(history, step.output["history"])
