"""nnspectra: spectra of neural networks during training, replicated end to end.

Importing the package is cheap (no torch): the Snakefile imports it while parsing.
"""

from nnspectra.errors import NnspectraError

__version__ = "0.1.0"
__all__ = ["NnspectraError", "__version__"]
