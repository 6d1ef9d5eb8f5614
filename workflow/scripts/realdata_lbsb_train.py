"""Train the MNIST convnet with the large (LB) or small (SB) batch (seed Figs 7-8)."""
from nnspectra.data.vision import mnist_subset, resolve_data_dir
from nnspectra.experiments.sagun2018.lbsb_training import (
    ConvnetModel,
    LbsbTrain,
    train_lbsb_convnet,
)
from nnspectra.experiments.sagun2018.mnist_training import MnistData
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import save_model, save_table
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    cfg, regime = step.params["cfg"], step.wildcards["regime"]
    device = step.use_device(cfg["device"])
    data, train = settings(MnistData, cfg["realdata.lbsb.data"]), settings(LbsbTrain, cfg["realdata.lbsb.train"])
    x, y = mnist_subset(resolve_data_dir(cfg["data_dir"]), cfg["download"], data.per_class, data.subset_seed,
                        data.image_size)
    model, history = train_lbsb_convnet(x, y, train.batch_size(regime), settings(ConvnetModel, cfg["realdata.lbsb.model"]),
                                        train, step.seed, device)
    save_model(model, step.output["model"], regime=regime, batch_size=train.batch_size(regime), seed=step.seed)
    save_table(history, step.output["history"])
