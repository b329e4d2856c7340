"""``gluon.data``: datasets, samplers, the DataLoader and vision datasets/transforms."""
from . import batchify, sampler, vision  # noqa: F401
from ._batchify import default_batchify_fn, default_mp_batchify_fn  # noqa: F401
from .dataloader import DataLoader  # noqa: F401
from .dataset import ArrayDataset, Dataset, SimpleDataset  # noqa: F401
from .sampler import (BatchSampler, IntervalSampler, RandomSampler, Sampler,  # noqa: F401
                      SequentialSampler)
