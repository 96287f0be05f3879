"""Constant folding of an exported ONNX graph with onnx alone (no onnx-simplifier / onnxoptimizer).

``torch.onnx.export(do_constant_folding=True)`` folds BatchNorm into the convolutions but leaves,
for the student unrolled over ``T``, one ``Constant`` node per scalar per LIF per time step
(threshold, 1, beta) and an ``Identity`` per re-use of a weight in every step. :func:`fold_constants`
rewrites the graph:

1. ``Identity`` nodes are removed (their output is renamed to their input) unless they produce a
   graph output;
2. every node whose inputs are all constants (initializers, ``Constant`` outputs, or outputs of
   nodes folded before) is evaluated with onnx's reference implementation
   (``onnx.reference.ReferenceEvaluator``) and replaced by its value;
3. the constants still used become initializers, equal values (same dtype, shape and bytes) shared
   by one initializer.

The result passes ``onnx.checker.check_model(full_check=True)``. :func:`count_ops` gives the node
counts per op type for reporting (before/after are in ``tests/export/test_onnx_export.py``).
"""
from __future__ import annotations

import collections
import hashlib

import numpy as np
import onnx
from onnx import helper, numpy_helper

NONDETERMINISTIC = {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial", "Bernoulli"}


def count_ops(model: onnx.ModelProto) -> dict[str, int]:
    return dict(collections.Counter(n.op_type for n in model.graph.node))


def _evaluate(node: onnx.NodeProto, values: list[np.ndarray], opset: int) -> list[np.ndarray]:
    from onnx.reference import ReferenceEvaluator

    names = [f"in{i}" for i in range(len(node.input))]
    n = helper.make_node(node.op_type, names, [f"out{i}" for i in range(len(node.output))], domain=node.domain)
    n.attribute.extend(node.attribute)
    inputs = [helper.make_tensor_value_info(nm, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
              for nm, v in zip(names, values)]
    outputs = [helper.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None) for o in n.output]
    g = helper.make_graph([n], "fold", inputs, outputs)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    return ReferenceEvaluator(m).run(None, dict(zip(names, values)))


def fold_constants(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` with Identity removed and constant sub-graphs evaluated (module docstring)."""
    g = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 17)
    const: dict[str, np.ndarray] = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    graph_inputs = {i.name for i in g.input}
    outputs = {o.name for o in g.output}
    alias: dict[str, str] = {}
    kept: list[onnx.NodeProto] = []
    for node in g.node:
        ins = [alias.get(i, i) for i in node.input]
        if node.op_type == "Constant":
            const[node.output[0]] = numpy_helper.to_array(node.attribute[0].t) if node.attribute[0].name == "value" \
                else _evaluate(node, [], opset)[0]
            continue
        if node.op_type == "Identity" and node.output[0] not in outputs:
            alias[node.output[0]] = ins[0]
            continue
        if (node.op_type not in NONDETERMINISTIC and node.domain in ("", "ai.onnx")
                and all(i in const for i in ins if i) and not any(o in outputs for o in node.output)):
            for name, value in zip(node.output, _evaluate(node, [const[i] for i in ins if i], opset)):
                const[name] = np.asarray(value)
            continue
        new = onnx.NodeProto()
        new.CopyFrom(node)
        del new.input[:]
        new.input.extend(ins)
        kept.append(new)
    used = {i for n in kept for i in n.input} | {alias.get(o, o) for o in outputs}
    shared: dict[tuple, str] = {}
    rename: dict[str, str] = {}
    inits = []
    for name in sorted(used & set(const)):
        if name in graph_inputs:
            continue
        v = np.array(const[name], order="C")  # (np.ascontiguousarray would turn a 0-d array into 1-d)
        key = (str(v.dtype), v.shape, hashlib.sha256(v.tobytes()).hexdigest())
        if key in shared:
            rename[name] = shared[key]
            continue
        shared[key] = name
        inits.append(numpy_helper.from_array(v, name))
    for n in kept:
        for i, x in enumerate(n.input):
            n.input[i] = rename.get(x, x)
    out = onnx.ModelProto()
    out.CopyFrom(model)
    del out.graph.node[:]
    out.graph.node.extend(kept)
    del out.graph.initializer[:]
    out.graph.initializer.extend(inits)
    del out.graph.value_info[:]
    onnx.checker.check_model(out, full_check=True)
    return out
