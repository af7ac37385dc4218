"""Image datasets as the image branches (generative, inversion) read them from the data stage."""

from __future__ import annotations

import pandas as pd
import torch

from .. import io
from ..data import DataError, select_samples


def load_images(arrays_path: str, samples_path: str, branch: str) -> tuple[pd.DataFrame, torch.Tensor]:
    """The samples table and the float32 images N x C x H x W of a prepared dataset; ``branch`` names
    the branch in the error raised for a dataset that is not images."""
    samples = io.read_parquet(samples_path)
    X = torch.as_tensor(io.load_tensor(arrays_path), dtype=torch.float32)
    if X.ndim != 4:
        raise DataError(
            f"{arrays_path} holds arrays of shape {tuple(X.shape)}; the {branch} branch needs images N x C x H x W "
            "(an image dataset: sklearn_digits, natural_images, mnist, cifar10, celeba, olivetti, image_folder, lfw_faces)"
        )
    return samples, X


def split_images(samples: pd.DataFrame, X: torch.Tensor, split: str, path: str) -> torch.Tensor:
    """The images of one split ('train' or 'test'); an empty split is an error naming the fix."""
    rows = select_samples(samples, split)
    if len(rows) == 0:
        raise DataError(f"{path} has no {split} images; set the dataset's test_fraction between 0 and 1")
    return X[torch.as_tensor(rows)]
