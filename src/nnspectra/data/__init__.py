"""Datasets: synthetic generators (blobs, mixtures, teachers) and torchvision loaders."""
