"""Handwritten digits (scikit-learn's bundled 8x8 images): data split, PyTorch and Keras programs."""
