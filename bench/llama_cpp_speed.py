"""llama.cpp on the same GGUF file and prompt tokens, for `bench/runner.sh` (optional: it runs
only when `python3 -c 'import llama_cpp'` works, i.e. after `pip install llama-cpp-python`).

Measured as the runner is: greedy, prefill tok/s = prompt tokens / time to the first new token,
decode tok/s = (new tokens - 1) / time from the first to the last; medians over the runs after
one warm-up. Prints one JSON object. (Not named `llama_cpp.py`: run as a script, a file of
the package's name beside it would be imported instead of the package.)

Usage: python3 bench/llama_cpp_speed.py MODEL.gguf '[prompt ids]' NEW_TOKENS RUNS
"""

import json
import os
import statistics
import sys
import time

from llama_cpp import Llama


def main():
    path, ids, new_tokens, runs = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    llm = Llama(
        model_path=path,
        n_ctx=max(512, len(ids) + new_tokens + 8),
        n_batch=512,
        n_threads=os.cpu_count(),
        n_threads_batch=os.cpu_count(),
        verbose=False,
    )
    eos = llm.token_eos()
    prefill, decode = [], []
    for run in range(runs + 1):
        llm.reset()  # no prefix reuse between runs
        start = time.perf_counter()
        first, n = None, 0
        for tok in llm.generate(ids, top_k=1, temp=0.0, reset=True):
            n += 1
            if first is None:
                first = time.perf_counter()
            if n == new_tokens or tok == eos:
                break
        end = time.perf_counter()
        if run == 0:
            continue  # warm-up
        prefill.append(len(ids) / (first - start))
        if n > 1:
            decode.append((n - 1) / (end - first))
    print(
        json.dumps(
            {
                "prefill_tok_s": statistics.median(prefill),
                "decode_tok_s": statistics.median(decode) if decode else None,
                "threads": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
