"""Writes the tiny torch checkpoints that tests/models/test_checkpoint.py reads.

Run with the MMPose reference python (it has torch and mmengine), from the repository root:
``~/.cache/kpose-mmpose-ref/bin/python tests/models/data/make_tiny_checkpoints.py \
tests/models/data``

The state dict holds the cases a reader gets wrong: a 0-d tensor, a transposed
(non-contiguous) tensor, a slice at an offset into a shared storage, float16, bfloat16 and
int64; the checkpoint carries mmengine's ``meta``, a ``message_hub`` with a ``HistoryBuffer``
object and optimizer state, as MMPose's training checkpoints do.
"""

import collections
import sys

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

out = sys.argv[1]
g = torch.Generator().manual_seed(0)
big = torch.randn(6, 5, generator=g)
state_dict = collections.OrderedDict(
    [
        ("backbone.conv1.weight", torch.randn(4, 3, 3, 3, generator=g)),
        ("backbone.bn1.running_mean", torch.randn(4, generator=g)),
        ("backbone.bn1.num_batches_tracked", torch.tensor(7)),
        ("head.final_layer.weight", big.t()),
        ("head.slice", big[2:4]),
        ("half", torch.randn(3, generator=g).half()),
        ("bf16", torch.randn(3, generator=g).bfloat16()),
        ("long", torch.arange(5)),
    ]
)
checkpoint = {
    "meta": {"epoch": 3, "np": np.arange(3), "cfg": "x"},
    "state_dict": state_dict,
    "message_hub": {"log_scalars": {"loss": HistoryBuffer([1.0, 2.0], [1, 1])}},
    "optimizer": {"state": {0: {"exp_avg": torch.zeros(2)}}},
}
torch.save(checkpoint, f"{out}/tiny_zip.pth")
torch.save(checkpoint, f"{out}/tiny_legacy.pth", _use_new_zipfile_serialization=False)
expected = {
    k: (v.float() if v.dtype == torch.bfloat16 else v).numpy() for k, v in state_dict.items()
}
np.savez(f"{out}/tiny_expected.npz", **expected)
