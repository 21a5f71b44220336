"""Which feature network a data set is scored with, by name: `gankit evaluate --features` and `--eval-every`."""

from __future__ import annotations

import torch

from gankit.infra.log import Log
from gankit.metrics.domain import domain_datasets, load_domain_classifier


def load_extractor(kind: str, dataset: str, device: torch.device, log: Log = print):
    """The feature network `kind` names (domain, inception or inception-fp32) for `dataset`; auto: the data
    set's domain network where it has one (MNIST, Fashion-MNIST), else Inception, run as fast as the device
    allows (inception.fast_settings); inception-fp32 runs it in fp32 on every device."""
    if kind == "domain" or (kind == "auto" and dataset in domain_datasets()):
        return load_domain_classifier(dataset, device)
    from gankit.metrics.inception import load_fast_inception

    return load_fast_inception(device, log=log, exact=kind == "inception-fp32")

