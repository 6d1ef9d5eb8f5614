"""Models: MLPs, convnets and the small networks of each paper."""
