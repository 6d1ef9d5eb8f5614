"""P0 Figs 1-2: Hessian spectrum of one MNIST-shaped net on MNIST or on random inputs, at init (and after GD)."""
from nnspectra.data.p0 import mnist_examples, random_patterns
from nnspectra.data.vision import resolve_data_dir
from nnspectra.experiments.sagun2016.predecessor import parse_hidden
from nnspectra.experiments.sagun2016.predecessor_mnist import P0Mnist, trained_spectra
from nnspectra.experiments.sagun2016.predecessor_training import P0Model, P0Train
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import save_arrays
from nnspectra.pipeline.runtime import resolve_device
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    cfg, w = step.params["cfg"], step.wildcards
    mnist, model = settings(P0Mnist, cfg["predecessor.mnist"]), settings(P0Model, cfg["predecessor.model"])
    train = settings(P0Train, cfg["predecessor.train"])
    seed, per_class, side = int(w["seed"]), int(mnist.per_class), int(mnist.image_size)
    if w["inputs"] == "mnist":
        x, y = mnist_examples(resolve_data_dir(cfg["data_dir"]), per_class, int(mnist.subset_seed), side,
                              download=bool(cfg["download"]))
    else:
        x, y = random_patterns(10 * per_class, side * side, 10, seed=mnist.random_seed(seed),
                               distribution=mnist.random_distribution)
    device = resolve_device(cfg["device"])
    step.set_device(device)
    out = trained_spectra(x, y, [x.shape[1], *parse_hidden(w["hidden"]), 10], mnist.train_settings(train), model,
                          seed, heatmap_side=int(mnist.heatmap_side), train=w["point"] == "trained", device=device)
    # the training time varies with the load: the sidecar keeps it, the result file holds only what the seed fixes
    step.extra.update(n_params=out["n_params"], iterations=out.get("iterations", 0),
                      train_seconds=out.pop("train_seconds", None))
    save_arrays(step.output["spectra"], seed=seed, inputs=w["inputs"], **out)
