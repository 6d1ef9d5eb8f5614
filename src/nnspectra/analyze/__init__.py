"""Your model, your data: the papers' spectral analyses (top-k, densities, traces, per-block curvature, outlier
counts against the number of classes, weight-ESD power laws, lambda_max against 2/lr) for any PyTorch model and
classification dataset named in a config entry (``analyze.studies.<name>``), through the project's curvature
front-end. See docs/analyze.md."""

from nnspectra.analyze.analyses import (
           AnalysisSettings,
           BlockOperator,
           analyze_curvature,
           parameter_blocks,
)
from nnspectra.analyze.run import StudyResult, StudyTrain, run_study, summary_row
from nnspectra.analyze.study import (
           build_model,
           load_checkpoint,
           load_study_data,
           loss_function,
           set_layer_mode,
)
from nnspectra.analyze.weights import weight_esd

__all__ = ["AnalysisSettings", "BlockOperator", "StudyResult", "StudyTrain", "analyze_curvature", "build_model",
           "load_checkpoint", "load_study_data", "loss_function", "parameter_blocks", "run_study",
           "set_layer_mode", "summary_row", "weight_esd"]
