"""Layer names of a model, and a check of requested names.

Two kinds of model are addressed:

- a model with the named-activation API of :class:`repgeo.inversion.networks.LayeredNet`: an
  attribute ``layer_names`` (a sequence of str) and a method ``activations(x, layers)`` returning
  ``{name: tensor}``. Its own names are used (e.g. MatConvNet-style ``conv1``, ``relu5_3``).
- any other ``torch.nn.Module``: the node names of its torch.fx graph in eval mode, as given by
  ``torchvision.models.feature_extraction.get_graph_node_names`` (torchvision documentation,
  "Feature extraction for model inspection"; the names are the qualified module names, e.g.
  ``layer1.0.relu``, plus an index suffix when a module is called more than once, e.g.
  ``layer1.0.relu_1``, and names of functional operations such as ``add`` or ``flatten``). The same
  names are the ``return_nodes`` of ``create_feature_extractor``, which :func:`extract_features`
  uses.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

from torch import nn


def has_named_activations(model: Any) -> bool:
    """True if ``model`` has its own names: a ``layer_names`` attribute and an ``activations`` method."""
    names = getattr(model, "layer_names", None)
    return (
        names is not None
        and not callable(names)
        and not isinstance(names, str)
        and callable(getattr(model, "activations", None))
    )


def layer_names(model: Any) -> list[str]:
    """The names that :func:`check_layers` and :func:`extract_features` accept for ``model``.

    ``model.layer_names`` for a model with the named-activation API (:func:`has_named_activations`);
    otherwise the eval-mode node names of torchvision's ``get_graph_node_names(model)`` (this traces
    the model with torch.fx once; the first name is the input placeholder, usually ``x``).
    """
    if has_named_activations(model):
        return [str(name) for name in model.layer_names]
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be a torch.nn.Module or have layer_names and activations(x, layers), got {type(model).__name__}"
        )
    from torchvision.models.feature_extraction import get_graph_node_names

    _, eval_names = get_graph_node_names(model)
    return list(eval_names)


def check_layers(model: Any, layers: Sequence[str], names: Sequence[str] | None = None) -> list[str]:
    """``layers`` as a list after checking that every one is a layer of ``model``.

    ``names``: the model's layer names if already known (:func:`layer_names` traces the model).
    Raises ``TypeError`` unless ``layers`` is a list/tuple of str, and ``ValueError`` for an empty
    list, a repeated name, or unknown names; the last message gives, for each unknown name, its close
    matches (``difflib.get_close_matches``) and then lists the valid names.
    """
    if isinstance(layers, str) or not isinstance(layers, Sequence):
        raise TypeError(f"layers must be a list of layer names such as [{layers!r}], got {type(layers).__name__}")
    bad_type = [name for name in layers if not isinstance(name, str)]
    if bad_type:
        raise TypeError(f"layers must be strings, got {bad_type[0]!r} ({type(bad_type[0]).__name__})")
    valid = list(layer_names(model) if names is None else names)
    if len(layers) == 0:
        raise ValueError(f"layers is empty; name at least one of: {', '.join(valid)}")
    repeated = sorted({name for name in layers if list(layers).count(name) > 1})
    if repeated:
        raise ValueError(f"layers names {repeated} more than once; give each layer once")
    known = set(valid)
    unknown = [name for name in layers if name not in known]
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, valid, n=3, cutoff=0.6)
            hints.append(f"{name!r} (did you mean {' or '.join(map(repr, close))}?)" if close else repr(name))
        raise ValueError(
            f"unknown layer(s) {', '.join(hints)} for {type(model).__name__}; valid layer names: {', '.join(valid)}"
        )
    return list(layers)
