"""Experiment runners of
Sagun et al. (2018), "Empirical analysis of the Hessian of over-parametrized neural networks".
"""
