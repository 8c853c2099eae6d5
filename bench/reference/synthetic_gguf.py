"""A synthetic GGUF file with a real model's shapes, for speed and memory benchmarks of the
local runner on models larger than the demo (`bench/runner.sh` with `LLM_COOP_BENCH_LARGE`).

The weights are random Q4_K blocks with small scales (the output is meaningless text; only
the shapes and block types matter for speed and memory), the norms are ones, the q/k/v biases
zeros, and the tokenizer is byte-level BPE over the 256 byte tokens plus fillers up to the
vocabulary size. The default shape is Qwen2-1.5B's: 28 layers, hidden 1536, MLP 8960, 12
heads and 2 key/value heads of 128, a vocabulary of 151,936 tied to the output head.

Usage (numpy and gguf on PYTHONPATH, e.g. `pip install --target /tmp/np numpy gguf`):
    PYTHONPATH=/tmp/np python3 bench/reference/synthetic_gguf.py /tmp/qwen2-1.5b-q4k.gguf
"""

import sys

import numpy as np
from gguf import GGUFWriter
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType as T

LAYERS, HIDDEN, FFN, HEADS, KV_HEADS, VOCAB = 28, 1536, 8960, 12, 2, 151936
HEAD_DIM = HIDDEN // HEADS


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    bs += list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for _, c in sorted(zip(bs, cs))]


def q4k(rng, rows, cols):
    """Random Q4_K blocks: d and dmin small and positive, random scales and nibbles."""
    block, size = GGML_QUANT_SIZES[T.Q4_K]
    n = rows * cols // block
    raw = rng.integers(0, 256, size=(n, size), dtype=np.uint8)
    for col in (0, 2):
        raw[:, col : col + 2] = (
            rng.uniform(0.0, 3e-5, n).astype(np.float16).view(np.uint8).reshape(n, 2)
        )
    return raw.reshape(rows, -1)


def main():
    out = sys.argv[1]
    rng = np.random.default_rng(1)
    w = GGUFWriter(out, "qwen2")
    w.add_name("synthetic-qwen2-1.5b-q4k")
    w.add_block_count(LAYERS)
    w.add_context_length(32768)
    w.add_embedding_length(HIDDEN)
    w.add_feed_forward_length(FFN)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_rope_freq_base(1e6)
    w.add_layer_norm_rms_eps(1e-6)
    tokens = bytes_to_unicode() + ["Ġt"] + [f"<filler{i}>" for i in range(VOCAB - 257)]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(tokens)
    w.add_token_types([1] * len(tokens))
    w.add_token_merges(["Ġ t"])

    def quant(name, rows, cols):
        raw = q4k(rng, rows, cols)
        w.add_tensor(name, raw, raw_shape=raw.shape, raw_dtype=T.Q4_K)

    ones = np.ones(HIDDEN, dtype=np.float32)
    quant("token_embd.weight", VOCAB, HIDDEN)
    w.add_tensor("output_norm.weight", ones)
    for i in range(LAYERS):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", ones)
        w.add_tensor(p + "ffn_norm.weight", ones)
        quant(p + "attn_q.weight", HIDDEN, HIDDEN)
        quant(p + "attn_k.weight", KV_HEADS * HEAD_DIM, HIDDEN)
        quant(p + "attn_v.weight", KV_HEADS * HEAD_DIM, HIDDEN)
        for n, rows in (("attn_q", HIDDEN), ("attn_k", KV_HEADS * HEAD_DIM), ("attn_v", KV_HEADS * HEAD_DIM)):
            w.add_tensor(p + n + ".bias", np.zeros(rows, dtype=np.float32))
        quant(p + "attn_output.weight", HIDDEN, HIDDEN)
        quant(p + "ffn_gate.weight", FFN, HIDDEN)
        quant(p + "ffn_up.weight", FFN, HIDDEN)
        quant(p + "ffn_down.weight", HIDDEN, FFN)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
