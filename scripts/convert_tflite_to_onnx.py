#!/usr/bin/env python3
"""Convert a MediaPipe .tflite model to ONNX, reproducibly.

Usage: convert_tflite_to_onnx.py INPUT.tflite OUTPUT.onnx

Runs tflite2onnx 0.4.1 (pinned in scripts/install-models) with two fixes:

1. PReLU rank fix. face_landmark.tflite stores its PReLU alphas as fp16 constants of rank 3 ([1,1,C])
   that go through DEQUANTIZE and then receive a 4-D NHWC->NCHW permutation, which fails with
   "IndexError: list index out of range" in tflite2onnx/layout.py (upstream issues #72 and #85).
   Tensor.transform is wrapped so a shape shorter than its layout is left-padded with 1s first
   ([1,1,C] -> [1,1,1,C]), which is what numpy broadcasting means for these constants anyway.
2. Deterministic output. tflite2onnx fills graph.initializer and graph.value_info in Python set order,
   so two runs give different bytes. Both lists are sorted by name and the model is saved again.

The result is checked with onnx.checker before it is written. The output file is written to a temporary
name next to OUTPUT and renamed, so OUTPUT is either complete or absent.
"""

import logging
import os
import sys


def patch_tensor_transform():
    from tflite2onnx import tensor

    original = tensor.Tensor.transform
    if getattr(original, "_elena_padded", False):
        return

    def transform(self):
        layout = self.layout
        if layout is not None and self.shape is not None:
            missing = len(layout.source) - len(self.shape)
            if missing > 0:
                self.shape = [1] * missing + list(self.shape)
        return original(self)

    transform._elena_padded = True
    tensor.Tensor.transform = transform


def sort_graph(path):
    import onnx

    model = onnx.load(path)
    graph = model.graph
    initializers = sorted(graph.initializer, key=lambda t: t.name)
    value_info = sorted(graph.value_info, key=lambda v: v.name)
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    del graph.value_info[:]
    graph.value_info.extend(value_info)
    onnx.checker.check_model(model)
    return model


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: convert_tflite_to_onnx.py INPUT.tflite OUTPUT.onnx\n")
        return 2
    source, target = argv[1], argv[2]
    # tflite2onnx warns "float16 not supported/tested" for every fp16 constant; the output is correct
    # (parity with the TFLite runtime is about 1e-4), so only errors are shown.
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("tflite2onnx").setLevel(logging.ERROR)

    import onnx
    import tflite2onnx

    patch_tensor_transform()
    raw = target + ".raw.tmp"
    tidy = target + ".tmp"
    try:
        tflite2onnx.convert(source, raw)
        onnx.save(sort_graph(raw), tidy)
        os.replace(tidy, target)
    finally:
        for leftover in (raw, tidy):
            if os.path.exists(leftover):
                os.remove(leftover)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
