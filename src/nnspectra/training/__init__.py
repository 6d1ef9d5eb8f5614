"""How parameters move: one training loop (GD, SGD, Adam; checkpoints and resume), online SGD,
the numpy fast path for tiny MLPs, and loss along straight lines between trained points."""

from nnspectra.training.loop import BatchSampler, TrainConfig, TrainResult, grad_norm, run_fingerprint, train

__all__ = ["BatchSampler", "TrainConfig", "TrainResult", "grad_norm", "run_fingerprint", "train"]
