"""Independent reference for the Qwen2 path of the local runner (q/k/v biases, an untied
output head, rope theta 1e6, grouped-query attention), which no offline real checkpoint covers.

The model is tiny and its weights come from a formula both sides compute, so no weights are
stored: parameter `name`, flat element `i` (row-major), is
    scale · sin(0.37 · i + phase(name)),  phase(name) = (sum of the name's bytes) mod 97 / 7,
with scale 0.1 for norms (added to 1.0), biases and embeddings, 0.05 for matrices. The forward
pass is float64 numpy written from Hugging Face's `modeling_qwen2.py` equations; it shares
nothing with the Rust runner.

Writes `tests/golden/qwen2_tiny.json`: the config, the token ids, and the logits of every
position.

Usage (numpy on PYTHONPATH): PYTHONPATH=/tmp/np python3 bench/reference/qwen2_tiny.py \
    tests/golden/qwen2_tiny.json
"""

import json
import sys

import numpy as np

CONFIG = {
    "model_type": "qwen2",
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "rms_norm_eps": 1e-6,
    "rope_theta": 1000000.0,
    "vocab_size": 40,
    "tie_word_embeddings": False,
    "max_position_embeddings": 64,
    "hidden_act": "silu",
    "sliding_window": 32,
    "use_sliding_window": False,
}
TOKENS = [1, 5, 17, 3, 39, 22, 8, 30, 11]


def param(name, shape, kind):
    n = int(np.prod(shape))
    phase = (sum(name.encode()) % 97) / 7.0
    v = np.sin(0.37 * np.arange(n, dtype=np.float64) + phase)
    # The runner reads f32 weights: round the same way before computing in float64.
    if kind == "norm":
        v = 1.0 + 0.1 * v
    elif kind == "small":
        v = 0.1 * v
    else:
        v = 0.05 * v
    return v.astype(np.float32).astype(np.float64).reshape(shape)


def rms_norm(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def rope(x, pos, theta):
    d = x.shape[-1]
    inv = 1.0 / theta ** (np.arange(0, d, 2, dtype=np.float64) / d)
    ang = np.outer(pos, inv)
    ang = np.concatenate([ang, ang], -1)  # [t, d]
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    half = d // 2
    rot = np.concatenate([-x[..., half:], x[..., :half]], -1)
    return x * cos + rot * sin


def main():
    c = CONFIG
    h, inter, v = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    nh, nkv = c["num_attention_heads"], c["num_key_value_heads"]
    d = h // nh
    t = len(TOKENS)
    x = param("model.embed_tokens.weight", (v, h), "small")[TOKENS]
    pos = np.arange(t)
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}"
        a = rms_norm(x, param(f"{p}.input_layernorm.weight", (h,), "norm"), c["rms_norm_eps"])
        q = a @ param(f"{p}.self_attn.q_proj.weight", (nh * d, h), "matrix").T + param(
            f"{p}.self_attn.q_proj.bias", (nh * d,), "small")
        k = a @ param(f"{p}.self_attn.k_proj.weight", (nkv * d, h), "matrix").T + param(
            f"{p}.self_attn.k_proj.bias", (nkv * d,), "small")
        vv = a @ param(f"{p}.self_attn.v_proj.weight", (nkv * d, h), "matrix").T + param(
            f"{p}.self_attn.v_proj.bias", (nkv * d,), "small")
        q = rope(q.reshape(t, nh, d), pos, c["rope_theta"])
        k = rope(k.reshape(t, nkv, d), pos, c["rope_theta"])
        vv = vv.reshape(t, nkv, d)
        out = np.zeros((t, nh, d))
        for head in range(nh):
            kv = head // (nh // nkv)
            s = q[:, head, :] @ k[:, kv, :].T / np.sqrt(d)
            s = s + np.triu(np.full((t, t), -np.inf), 1)
            s = np.exp(s - s.max(-1, keepdims=True))
            s = s / s.sum(-1, keepdims=True)
            out[:, head, :] = s @ vv[:, kv, :]
        x = x + out.reshape(t, h) @ param(f"{p}.self_attn.o_proj.weight", (h, nh * d), "matrix").T
        m = rms_norm(x, param(f"{p}.post_attention_layernorm.weight", (h,), "norm"), c["rms_norm_eps"])
        g = m @ param(f"{p}.mlp.gate_proj.weight", (inter, h), "matrix").T
        u = m @ param(f"{p}.mlp.up_proj.weight", (inter, h), "matrix").T
        act = g / (1.0 + np.exp(-g)) * u
        x = x + act @ param(f"{p}.mlp.down_proj.weight", (h, inter), "matrix").T
    x = rms_norm(x, param("model.norm.weight", (h,), "norm"), c["rms_norm_eps"])
    logits = x @ param("lm_head.weight", (v, h), "matrix").T
    with open(sys.argv[1], "w") as f:
        json.dump({"config": CONFIG, "tokens": TOKENS, "logits": logits.tolist()}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
