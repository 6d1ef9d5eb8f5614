"""Train one 784-n-10 MLP on MNIST-1K with full-batch GD (seed Figs 4-6)."""
from nnspectra.data.vision import mnist_subset, resolve_data_dir
from nnspectra.experiments.sagun2018.mnist_training import GDTrain, MlpModel, MnistData, train_mnist_mlp
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import save_model, save_table
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    cfg, width = step.params["cfg"], int(step.wildcards["width"])
    device = step.use_device(cfg["device"])
    data = settings(MnistData, cfg["realdata.mnist.data"])
    x, y = mnist_subset(resolve_data_dir(cfg["data_dir"]), cfg["download"], data.per_class, data.subset_seed,
                        data.image_size)
    model, history = train_mnist_mlp(x, y, width, settings(MlpModel, cfg["realdata.mnist.model"]),
                                     settings(GDTrain, cfg["realdata.mnist.train"]), step.seed, device)
    save_model(model, step.output["model"], width=width, seed=step.seed)
    save_table(history, step.output["history"])
