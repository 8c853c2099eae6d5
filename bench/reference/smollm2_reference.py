"""Independent reference forward pass for the local runner's parity test.

Reads a Llama-architecture GGUF file with the `gguf` package (its own dequantisers), runs the
transformer in float64 numpy straight from the Hugging Face Llama equations (RMSNorm, RoPE with
rotate-half, grouped-query attention, SwiGLU, tied embeddings), and tokenises the prompt with a
from-scratch GPT-2 byte-level BPE (digits split one by one, as `tokenizer.ggml.pre = smollm`
asks). Nothing here shares code with the Rust runner.

It writes `tests/golden/smollm2_reference.json`: the prompt, its token ids, the full logits of
the last prompt position, the top logits of every position, a short greedy continuation
(recomputed from scratch each step, no KV cache), and for a ~256-token English paragraph
(after the BOS token) the top-1 next token at every position.

Usage (numpy, gguf and regex on PYTHONPATH, e.g. `pip install --target /tmp/np numpy gguf regex`):
    PYTHONPATH=/tmp/np python3 bench/reference/smollm2_reference.py \
        .deps/models/SmolLM2-135M-Instruct.Q4_1.gguf tests/golden/smollm2_reference.json
"""

import json
import sys

import numpy as np
import regex
from gguf import GGUFReader
from gguf.quants import dequantize

SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
QUESTION = "What is the capital of France?"
GREEDY_STEPS = 12
TOP = 16
# A plain English paragraph for the teacher-forced comparison: every position's most likely
# next token, which the quantized (`dtype = native`) path must match almost everywhere.
TEXT = (
    "The lighthouse stood at the edge of the harbour for more than a hundred years. Every "
    "evening the keeper climbed the narrow stairs, cleaned the glass and lit the lamp, so that "
    "the fishing boats could find their way home through the fog. In winter the storms were so "
    "strong that the waves reached the windows of the tower, and the keeper wrote in his "
    "journal about the ships he had seen and the birds that rested on the rail. When the town "
    "built a new electric light on the hill, the old tower was no longer needed. The keeper "
    "moved to a small house near the market, but he still walked to the harbour every morning "
    "to watch the water. Children from the school came to ask him about the sea, and he told "
    "them how to read the clouds, how the tides follow the moon, and why sailors respect the "
    "wind. Years later, the town turned the lighthouse into a museum. His journal was placed in "
    "a glass case near the door, open at the page where he had written that the sea teaches "
    "patience to anyone who is willing to listen. Visitors still read it today, and on clear "
    "nights some of them say that they can see a faint light turning at the top of the old "
    "tower, as if the keeper were still at work, guiding the boats safely back to the shore."
)


def field(reader, key):
    f = reader.fields[key]
    part = f.parts[f.data[0]]
    if f.types[0].name == "STRING":
        return bytes(part).decode("utf-8")
    return part.tolist()[0]


def string_array(reader, key):
    f = reader.fields[key]
    return [bytes(f.parts[i]).decode("utf-8") for i in f.data]


def int_array(reader, key):
    f = reader.fields[key]
    return [int(f.parts[i][0]) for i in f.data]


# ---- tokenizer: GPT-2 byte-level BPE ------------------------------------------------------


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
    return dict(zip(bs, map(chr, cs)))


GPT2_SPLIT = regex.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
)


class Bpe:
    def __init__(self, tokens, merges, types):
        self.ids = {t: i for i, t in enumerate(tokens)}
        self.ranks = {tuple(m.split(" ", 1)): r for r, m in enumerate(merges)}
        self.special = [t for t, ty in zip(tokens, types) if ty in (3, 4)]
        self.byte_map = bytes_to_unicode()

    def bpe(self, word):
        parts = list(word)
        while len(parts) > 1:
            pairs = [(self.ranks.get((a, b), 1 << 60), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
            rank, i = min(pairs)
            if rank == 1 << 60:
                break
            parts = parts[:i] + [parts[i] + parts[i + 1]] + parts[i + 2 :]
        return parts

    def encode_plain(self, text):
        out = []
        # smollm pre-tokenizer: every digit on its own, then the GPT-2 split.
        for chunk in regex.split(r"(\p{N})", text):
            if not chunk:
                continue
            for piece in GPT2_SPLIT.findall(chunk):
                mapped = "".join(self.byte_map[b] for b in piece.encode("utf-8"))
                out.extend(self.ids[p] for p in self.bpe(mapped))
        return out

    def encode(self, text):
        pattern = "(" + "|".join(regex.escape(s) for s in self.special) + ")"
        out = []
        for chunk in regex.split(pattern, text):
            if chunk in self.special:
                out.append(self.ids[chunk])
            elif chunk:
                out.extend(self.encode_plain(chunk))
        return out


# ---- model ----------------------------------------------------------------------------------


def load_weights(reader):
    weights = {}
    for t in reader.tensors:
        w = dequantize(t.data, t.tensor_type)
        # GGUF dims are innermost-first; numpy shapes are outermost-first.
        shape = tuple(int(d) for d in reversed(t.shape.tolist()))
        weights[t.name] = np.asarray(w, dtype=np.float32).reshape(shape).astype(np.float64)
    return weights


def unpermute(w, heads):
    # llama.cpp's convert script interleaves the two RoPE halves of each head; undo it.
    rows, cols = w.shape
    return w.reshape(heads, rows // heads // 2, 2, cols).swapaxes(1, 2).reshape(rows, cols)


def rms_norm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rope(x, theta):
    # x: [heads, seq, head_dim], rotate-half (GPT-NeoX / Hugging Face) convention.
    _, seq, d = x.shape
    inv = 1.0 / theta ** (np.arange(0, d, 2, dtype=np.float64) / d)
    ang = np.outer(np.arange(seq, dtype=np.float64), inv)
    cos = np.concatenate([np.cos(ang)] * 2, axis=-1)
    sin = np.concatenate([np.sin(ang)] * 2, axis=-1)
    half = d // 2
    rot = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos + rot * sin


def forward(w, cfg, ids):
    h = w["token_embd.weight"][ids]
    seq = len(ids)
    nh, nkv, eps, theta = cfg["heads"], cfg["kv_heads"], cfg["eps"], cfg["theta"]
    hd = h.shape[1] // nh
    mask = np.triu(np.full((seq, seq), -np.inf), 1)
    for i in range(cfg["layers"]):
        p = f"blk.{i}."
        x = rms_norm(h, w[p + "attn_norm.weight"], eps)
        q = (x @ unpermute(w[p + "attn_q.weight"], nh).T).reshape(seq, nh, hd).transpose(1, 0, 2)
        k = (x @ unpermute(w[p + "attn_k.weight"], nkv).T).reshape(seq, nkv, hd).transpose(1, 0, 2)
        v = (x @ w[p + "attn_v.weight"].T).reshape(seq, nkv, hd).transpose(1, 0, 2)
        q, k = rope(q, theta), rope(k, theta)
        k = np.repeat(k, nh // nkv, axis=0)
        v = np.repeat(v, nh // nkv, axis=0)
        s = q @ k.transpose(0, 2, 1) / np.sqrt(hd) + mask
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        a = (s @ v).transpose(1, 0, 2).reshape(seq, nh * hd)
        h = h + a @ w[p + "attn_output.weight"].T
        x = rms_norm(h, w[p + "ffn_norm.weight"], eps)
        g = x @ w[p + "ffn_gate.weight"].T
        u = x @ w[p + "ffn_up.weight"].T
        h = h + (g / (1 + np.exp(-g)) * u) @ w[p + "ffn_down.weight"].T
    h = rms_norm(h, w["output_norm.weight"], eps)
    out = w.get("output.weight", w["token_embd.weight"])
    return h @ out.T


def main():
    path, out_path = sys.argv[1], sys.argv[2]
    r = GGUFReader(path)
    assert field(r, "general.architecture") == "llama"
    cfg = {
        "layers": field(r, "llama.block_count"),
        "heads": field(r, "llama.attention.head_count"),
        "kv_heads": field(r, "llama.attention.head_count_kv"),
        "eps": field(r, "llama.attention.layer_norm_rms_epsilon"),
        "theta": field(r, "llama.rope.freq_base"),
    }
    tokens = string_array(r, "tokenizer.ggml.tokens")
    bpe = Bpe(tokens, string_array(r, "tokenizer.ggml.merges"), int_array(r, "tokenizer.ggml.token_type"))
    prompt = (
        f"<|im_start|>system\n{SYSTEM}<|im_end|>\n"
        f"<|im_start|>user\n{QUESTION}<|im_end|>\n<|im_start|>assistant\n"
    )
    ids = bpe.encode(prompt)
    # A second text that exercises digits, punctuation, spaces and non-ASCII.
    extra_text = "Prices rose 12.5% in 2024 — naïve café's   \"tests\"\n\tend!"
    extra_ids = bpe.encode(extra_text)

    w = load_weights(r)
    logits = forward(w, cfg, ids)
    per_position = []
    for row in logits:
        top = np.argsort(-row)[:TOP]
        per_position.append({"ids": top.tolist(), "logits": [round(float(row[i]), 6) for i in top]})

    generated = []
    seq = list(ids)
    for _ in range(GREEDY_STEPS):
        nxt = int(np.argmax(forward(w, cfg, seq)[-1]))
        generated.append(nxt)
        seq.append(nxt)
        if nxt == field(r, "tokenizer.ggml.eos_token_id"):
            break

    # Teacher forcing on the paragraph: the most likely next token at every position.
    text_ids = [field(r, "tokenizer.ggml.bos_token_id")] + bpe.encode(TEXT)
    text_top1 = [int(i) for i in np.argmax(forward(w, cfg, text_ids), axis=-1)]

    golden = {
        "model": path.rsplit("/", 1)[-1],
        "about": "float64 numpy reference forward pass, see bench/reference/smollm2_reference.py",
        "prompt": prompt,
        "prompt_ids": ids,
        "extra_text": extra_text,
        "extra_ids": extra_ids,
        "last_logits": [round(float(x), 6) for x in logits[-1]],
        "top_per_position": per_position,
        "greedy_ids": generated,
        "greedy_text": "".join(tokens[i] for i in generated),
        "text": TEXT,
        "text_ids": text_ids,
        "text_top1": text_top1,
    }
    with open(out_path, "w") as f:
        json.dump(golden, f, separators=(",", ":"))
        f.write("\n")
    print(f"prompt ids ({len(ids)}): {ids}")
    print(f"extra ids: {extra_ids}")
    print(f"greedy ids: {generated}")
    print(f"text ids: {len(text_ids)}")


if __name__ == "__main__":
    main()
