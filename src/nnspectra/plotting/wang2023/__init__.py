"""Figures of
Wang et al. (2023), spectral evolution and invariance of weights, CK and NTK.
"""
