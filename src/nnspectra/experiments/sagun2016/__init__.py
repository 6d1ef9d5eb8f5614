"""Experiment runners of
Sagun, Bottou & LeCun (2016), "Singularity of the Hessian in deep learning" (P0, the predecessor).
"""
