"""Spectral analysis: outlier counting, random-matrix laws, tails and alignment."""
