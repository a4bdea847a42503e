"""Two replicas (MirroredStrategy on two logical CPUs) take the same step as one replica."""

import json
import subprocess
import sys
from pathlib import Path


def test_two_replicas_equal_one_replica():
    script = Path(__file__).with_name("mirrored_step.py")
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).parents[2],
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["max_weight_diff"] < 1e-5, result
    assert abs(result["loss_one"][0] - result["loss_two"][0]) < 1e-6
    assert result["loss_one"][0] != result["loss_one"][-1]  # the weights did move
