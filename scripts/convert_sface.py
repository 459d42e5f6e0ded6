#!/usr/bin/env python3
"""Turns OpenCV Zoo's SFace face-recognition model from its int8 block-quantized ONNX form (opset 21, which
OpenCV 4.6 cannot read) into a plain fp32 ONNX file (opset 11) that cv::dnn and cv::FaceRecognizerSF load.

    convert_sface.py IN.onnx OUT.onnx

What it does, and nothing else (the network's arithmetic is unchanged):
  - evaluates every DequantizeLinear whose inputs are constants, block-quantized along an axis
    (y = (x - zero_point) * scale, each scale covering block_size elements), and every Reshape of a
    constant, into fp32 initializers;
  - removes Dropout (an identity at inference) and the Constant that fed it;
  - keeps only the initializers and graph inputs still used, sorted by name;
  - declares opset 11 and runs onnx.checker;
  - checks that the converted network computes what the original does: both run in ONNX's reference
    evaluator on two fixed inputs (BatchNormalization told it is inference, which that evaluator otherwise
    reads as training) and must agree within 1e-5, or nothing is written.
The output is the same bytes on every run (deterministic serialization). Needs only onnx and numpy.
"""
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper


def dequantize(x, scale, zero_point, axis, block_size):
    """DequantizeLinear (opset 21) on numpy arrays: per-tensor, per-axis or blocked along `axis`."""
    x = x.astype(np.int32)
    zero_point = np.zeros_like(scale, dtype=np.int32) if zero_point is None else zero_point.astype(np.int32)
    if scale.ndim == 0 or scale.size == 1:
        return ((x - zero_point.reshape(())) .astype(np.float32) * scale.reshape(()).astype(np.float32))
    axis = axis % x.ndim
    if block_size > 0:
        scale = np.repeat(scale, block_size, axis=axis)
        zero_point = np.repeat(zero_point, block_size, axis=axis)
        index = [slice(None)] * x.ndim
        index[axis] = slice(0, x.shape[axis])
        scale, zero_point = scale[tuple(index)], zero_point[tuple(index)]
    else:  # per axis: a 1-D scale along `axis`
        shape = [1] * x.ndim
        shape[axis] = x.shape[axis]
        scale, zero_point = scale.reshape(shape), zero_point.reshape(shape)
    return (x - zero_point).astype(np.float32) * scale.astype(np.float32)


def reshape(data, shape):
    """Reshape with ONNX's 0 (copy the dimension) and -1 (infer)."""
    target = [data.shape[i] if d == 0 else int(d) for i, d in enumerate(shape.tolist())]
    return data.reshape(target)


def main(source, target):
    model = onnx.load(source)
    graph = model.graph
    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    renamed = {}  # Dropout's output -> its input
    kept = []
    for node in graph.node:
        inputs = [renamed.get(name, name) for name in node.input]
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "DequantizeLinear" and all(name in consts for name in inputs if name):
            zero_point = consts[inputs[2]] if len(inputs) > 2 and inputs[2] else None
            consts[node.output[0]] = dequantize(
                consts[inputs[0]], consts[inputs[1]], zero_point, attributes.get("axis", 1), attributes.get("block_size", 0))
            continue
        if node.op_type == "Reshape" and all(name in consts for name in inputs):
            consts[node.output[0]] = reshape(consts[inputs[0]], consts[inputs[1]])
            continue
        if node.op_type == "Dropout":
            renamed[node.output[0]] = inputs[0]
            continue

        del node.input[:]
        node.input.extend(inputs)
        kept.append(node)
    outputs = {renamed.get(o.name, o.name) for o in graph.output}
    # Drop nodes nothing uses (the Constant that fed Dropout), until none is left.
    while True:
        used = {name for node in kept for name in node.input} | outputs
        unused = [node for node in kept if not any(out in used for out in node.output)]
        if not unused:
            break
        kept = [node for node in kept if node not in unused]
    used = {name for node in kept for name in node.input}
    initializers = [
        numpy_helper.from_array(np.ascontiguousarray(value), name)
        for name, value in sorted(consts.items()) if name in used
    ]
    inputs = [i for i in graph.input if i.name not in consts and i.name in used]
    new_graph = helper.make_graph(kept, graph.name, inputs, list(graph.output), initializers)
    converted = helper.make_model(
        new_graph, opset_imports=[helper.make_opsetid("", 11)], producer_name="elena-run convert_sface.py",
        ir_version=6)
    onnx.checker.check_model(converted)
    check_parity(model, converted)
    with open(target, "wb") as f:
        f.write(converted.SerializeToString(deterministic=True))


def inference_copy(model, opset):
    """A copy to evaluate: BatchNormalization says training_mode 0 (opset 14 and later know it)."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for node in copy.graph.node:
        if node.op_type == "BatchNormalization":
            node.attribute.append(helper.make_attribute("training_mode", 0))
    del copy.opset_import[:]
    copy.opset_import.append(helper.make_opsetid("", opset))
    return copy


def check_parity(original, converted):
    from onnx.reference import ReferenceEvaluator

    before = ReferenceEvaluator(inference_copy(original, 21))
    after = ReferenceEvaluator(inference_copy(converted, 15))
    name = converted.graph.input[0].name
    for seed in (1, 2):
        x = np.random.RandomState(seed).uniform(0, 255, (1, 3, 112, 112)).astype(np.float32)
        a = before.run(None, {name: x})[0]
        b = after.run(None, {name: x})[0]
        difference = float(np.abs(a - b).max())
        if not difference <= 1e-5:
            sys.exit(f"convert_sface.py: the converted model differs from the original by {difference}: not written")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: convert_sface.py IN.onnx OUT.onnx")
    main(sys.argv[1], sys.argv[2])
