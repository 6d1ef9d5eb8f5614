"""Generate one standardised Gaussian-blob data set (Sagun et al. 2018, App. A)."""
from nnspectra.data.blobs import blob_dataset
from nnspectra.experiments.sagun2018.blobs_runs import BlobData
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import save_arrays
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    w, data_cfg = step.wildcards, settings(BlobData, step.params["cfg"]["blobs.data"])
    data = blob_dataset(int(data_cfg.n_train), int(data_cfg.input_dim), int(w["k"]), float(w["cov"]),
                        data_cfg.seed_for(int(w["seed"])))
    save_arrays(step.output["data"], **data.as_arrays())
