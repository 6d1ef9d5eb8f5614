"""Figures of
Ben Arous et al. (ICLR 2024), outlier alignment in online SGD.
"""
