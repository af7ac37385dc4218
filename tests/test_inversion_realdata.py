"""The inversion branch on real images of ../shared/datasets (issue 8): the CIFAR-10 subset.

- The workflow end to end on CIFAR-10: a small VGG-style network trained inside the workflow,
  the feature-map statistics, an end-to-end inverter and the TV and learned ICA pre-images at
  pool1, on the full subset (4,000 training, 1,000 test images) with short schedules: about 70 s
  on two cores, so it is marked slow (``make test-slow``).
- AlexNet as torchvision defines it, at the smallest input it accepts (CIFAR's 32 px scaled to
  63 px by the network's own preprocessing): the layer-1 pre-image of real test images reaches a
  normalised representation error under 0.05 with the M&V 2016 defaults (the acceptance test of
  the issue, here on real photographs and a real architecture).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from repgeo import io

from workflow_helpers import planned_jobs, snakemake, write_config

pytestmark = pytest.mark.realdata


def _cifar(shared_datasets):
    path = shared_datasets / "cifar10_subset" / "cifar10_subset.npz"
    if not path.is_file():
        pytest.skip(f"the CIFAR-10 subset is not available: {path} does not exist")
    return path


@pytest.mark.slow  # about 70 s: run by make test-slow
@pytest.mark.workflow
def test_workflow_on_cifar10(tmp_path, shared_datasets):
    cfg = {
        "threads": {"data": 2, "training": 2, "entropy": 1, "plot": 1},
        "datasets": {"cifar10": {"source": "cifar10", "path": str(_cifar(shared_datasets))}},
        "inversion": {
            "cifar": {
                "dataset": "cifar10",
                "arch": "vgg_small",
                "width": 16,
                "layers": ["pool1"],
                "training": {"epochs": 2, "batch_size": 64, "optimiser": "adam", "lr": 0.001, "weight_decay": 0.0},
                "statistics": {"n_images": 500, "channels": 2},
                "inverters": {"epochs": 2, "regimes": ["end_to_end"], "n_show": 4},
                "priors": {"patch_size": 6, "n_patches": 5000, "steps": 200, "experts": ["ica"]},
                "preimage": {"n_images": 2, "search_images": 1, "methods": ["tv", "ica"], "weight_grid": [0.1, 1.0]},
            }
        },
    }
    write_config(tmp_path, cfg)
    targets = ("results/inversion/cifar/comparison.parquet", "results/inversion/cifar/statistics/pool1.parquet")
    snakemake(tmp_path, "--cores", "2", *targets)
    base = tmp_path / "results/inversion/cifar"
    history = io.read_parquet(base / "network_history.parquet")
    # Ten classes: chance is 0.1. Two epochs of Adam reach 0.279 here (measured on 2026-12-06, the
    # same at the commit that wrote this test, whose comment expected about 0.4): well above chance.
    assert history["test_accuracy"].iloc[-1] > 0.2, history
    samples = io.read_parquet(tmp_path / "results/data/cifar10/samples.parquet")
    assert (samples["split"] == "test").sum() == 1000 and samples["label"].nunique() == 10
    # Feature maps are closer to stationary away from the border (the "Deep Restoration" study,
    # section 4.1). CIFAR's objects sit in the middle of the frame, so less so than for random
    # patches of photographs (the default run's 0.0013): measured 0.064 interior against 0.128 at
    # the border, on 500 images.
    stats = io.read_parquet(base / "statistics/pool1.parquet")
    share = stats[stats["matrix"] == "covariance"].groupby("region")["off_toeplitz_share"].mean()
    assert share["interior"] < 0.1 and share["border"] > 1.5 * share["interior"], share
    inverters = io.read_parquet(base / "inverters.parquet")
    assert (inverters["mse"] < inverters["baseline_mse"]).mean() > 0.9, inverters[["mse", "baseline_mse"]]
    table = io.read_parquet(base / "comparison.parquet").set_index("method")
    assert set(table.index) == {"tv", "ica", "inverter_end_to_end"}
    for method in ("tv", "ica"):
        assert table.loc[method, "ssim_mean"] > 0.5, table
        assert table.loc[method, "normalised_error_mean"] < 0.2, table
    search = io.read_parquet(base / "preimages/ica/pool1_search.parquet")
    assert sorted(search["weight"]) == [0.1, 1.0] and search["selected"].sum() == 1
    assert planned_jobs(tmp_path, *targets) == {}


def test_alexnet_layer1_preimage_of_cifar_images(shared_datasets):
    from repgeo.inversion.metrics import image_metrics, representation_error
    from repgeo.inversion.networks import build_network
    from repgeo.inversion.preimage import PreimageConfig, data_weight, image_to_mv_units, mv_units_to_image, preimage

    with np.load(_cifar(shared_datasets)) as npz:
        X = torch.from_numpy(npz["x_test"][:6].astype(np.float32) / 255.0).permute(0, 3, 1, 2).contiguous()
    net = build_network("alexnet", 10, in_channels=3, image_size=(32, 32), seed=0)
    net.requires_grad_(False)
    assert net.input_size == (63, 63)  # AlexNet's minimum: pool5 is then 1 x 1
    assert tuple(net.features(X[:1], "pool5").shape) == (1, 256, 1, 1)
    mean255 = (net.mean.flatten() * 255.0).tolist()

    def phi(x):
        return net.features(mv_units_to_image(x, mean255), "conv1")

    phi0 = phi(image_to_mv_units(X, mean255))
    _, stride = net.receptive_field("conv1")
    stride_px = max(1, round(stride / (63 / 32)))  # conv1's stride of 4 at 63 px is 2 px of the image
    config = PreimageConfig(C=data_weight("conv1", arch=None, C=None))
    assert config.C == 300.0
    result = preimage(phi, phi0, (3, 32, 32), config, stride=stride_px, generator=torch.Generator().manual_seed(0))
    # An independent evaluation of the reported error, then the acceptance bound on the mean over
    # the six images (measured 0.033; the worst image, a high-contrast one, 0.079).
    direct = representation_error(phi(result.x), phi0)["normalised_error"].to_numpy()
    assert np.allclose(direct, result.normalised_error, rtol=1e-4)
    assert direct.mean() < 0.05, direct
    ssim = image_metrics(mv_units_to_image(result.x, mean255).clamp(0, 1), X)["ssim"].to_numpy()
    assert ssim.mean() > 0.85, ssim
