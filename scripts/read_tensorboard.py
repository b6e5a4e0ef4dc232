"""Reads a run's TensorBoard event files with the `tensorboard` package's own reader and
prints every scalar, image and file version as JSON (the test of `[log] tensorboard` compares
them with metrics.jsonl).

    python scripts/read_tensorboard.py RUN/tensorboard
"""
import glob
import hashlib
import json
import os
import sys

from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.util import tensor_util


def main(folder):
    out = {"files": [], "file_version": [], "scalars": [], "images": []}
    for path in sorted(glob.glob(os.path.join(folder, "*tfevents*"))):
        out["files"].append(os.path.basename(path))
        for event in EventFileLoader(path).Load():
            if event.HasField("file_version"):
                out["file_version"].append(event.file_version)
            # EventFileLoader is what TensorBoard itself reads with: it migrates the legacy
            # simple_value and image summaries to the scalars and images plugins' tensors.
            for value in event.summary.value:
                plugin = value.metadata.plugin_data.plugin_name
                if value.HasField("simple_value"):
                    out["scalars"].append([value.tag, event.step, value.simple_value])
                elif plugin == "scalars":
                    scalar = tensor_util.make_ndarray(value.tensor).item()
                    out["scalars"].append([value.tag, event.step, float(scalar)])
                elif plugin == "images":
                    width, height, png = tensor_util.make_ndarray(value.tensor)[:3]
                    out["images"].append([
                        value.tag,
                        event.step,
                        int(width),
                        int(height),
                        hashlib.sha256(png).hexdigest(),
                    ])
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
