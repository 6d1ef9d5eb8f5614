"""How parameters move: one training loop (GD, SGD, Adam; checkpoints and resume) with its fast gradient
path for plain MLPs (picked by the loop, bit-for-bit autograd), online SGD, classification evaluation, and
loss along straight lines between trained points."""

from nnspectra.training.loop import BatchSampler, TrainConfig, TrainResult, grad_norm, run_fingerprint, train

__all__ = ["BatchSampler", "TrainConfig", "TrainResult", "grad_norm", "run_fingerprint", "train"]
