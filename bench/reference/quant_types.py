"""Golden file for the GGUF dequantisers: a small GGUF with one tensor of each supported type
(random block bytes with sane f16 scales) and the values the `gguf` package's own
dequantisers give for them.

Usage (numpy and gguf on PYTHONPATH):
    PYTHONPATH=/tmp/np python3 bench/reference/quant_types.py tests/golden/quant_types
writes `quant_types.gguf` and `quant_types.json`.
"""

import json
import sys

import numpy as np
from gguf import GGUFWriter
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType as T
from gguf.quants import dequantize

ROWS, COLS = 2, 512


def random_blocks(rng, qtype):
    block, size = GGML_QUANT_SIZES[qtype]
    n_blocks = ROWS * COLS // block
    raw = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)

    def f16(col, lo, hi):
        raw[:, col : col + 2] = rng.uniform(lo, hi, n_blocks).astype(np.float16).view(np.uint8).reshape(n_blocks, 2)

    if qtype in (T.Q8_0, T.Q4_0):
        f16(0, -0.1, 0.1)
    elif qtype == T.Q4_1:
        f16(0, -0.1, 0.1)
        f16(2, -1.0, 1.0)
    elif qtype in (T.Q4_K, T.Q5_K):
        f16(0, -0.01, 0.01)
        f16(2, -0.01, 0.01)
    elif qtype == T.Q6_K:
        f16(208, -0.01, 0.01)
    return raw.reshape(ROWS, -1)


def main():
    out = sys.argv[1]
    rng = np.random.default_rng(20261121)
    writer = GGUFWriter(out + ".gguf", "llama")
    expected = {}
    dense = rng.standard_normal((ROWS, COLS)).astype(np.float32)
    for qtype in (T.F32, T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_1, T.Q4_K, T.Q6_K, T.Q5_K):
        name = f"t.{qtype.name.lower()}"
        if qtype == T.F32:
            writer.add_tensor(name, dense)
            values = dense
        elif qtype == T.F16:
            writer.add_tensor(name, dense.astype(np.float16))
            values = dense.astype(np.float16).astype(np.float32)
        else:
            if qtype == T.BF16:
                raw = (dense.view(np.uint32) >> 16).astype(np.uint16).view(np.uint8).reshape(ROWS, -1)
            else:
                raw = random_blocks(rng, qtype)
            writer.add_tensor(name, raw, raw_shape=raw.shape, raw_dtype=qtype)
            values = dequantize(raw, qtype)
        values = np.asarray(values, dtype=np.float32).reshape(ROWS, COLS)
        expected[name] = {"type": qtype.name, "shape": [ROWS, COLS], "values": [float(v) for v in values.ravel()]}
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with open(out + ".json", "w") as f:
        json.dump(expected, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
