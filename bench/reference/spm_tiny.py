"""Golden file for GGUF `llama` (SentencePiece BPE) tokenizers, as Llama 2 and Mistral files
carry them: trains a small SentencePiece BPE model (byte fallback, as Llama's) with the
`sentencepiece` package, writes its pieces, scores and types into a GGUF file the way
llama.cpp's converter does (`tokenizer.ggml.model = llama`), and records how SentencePiece
itself encodes a set of texts. The runner's tokenizer must give the same ids and decode them
back to the text.

Usage (sentencepiece, numpy and gguf on PYTHONPATH):
    PYTHONPATH=/tmp/sp:/tmp/np python3 bench/reference/spm_tiny.py tests/golden/spm_tiny
writes `spm_tiny.gguf` and `spm_tiny.json`.
"""

import io
import json
import sys

import sentencepiece as spm
from gguf import GGUFWriter

CORPUS = [
    "The lighthouse keeper climbed the stairs every evening to light the lamp.",
    "Ships passed the rocks safely because the light never failed.",
    "One night he found an old map hidden beneath the floorboards of the tower.",
    "The map showed an island to the north, marked with a small red cross.",
    "He sailed at dawn, the wind steady and the sea calm, towards the island.",
    "Numbers like 1234 and 56.78 appear in logs; so do dates such as 2026-11-22.",
    "Questions? Answers! Quotes: 'single' and \"double\"; tabs\tand  double  spaces.",
] * 20

CASES = [
    "The lighthouse keeper found a map.",
    "Hello world",
    " leading space and trailing space ",
    "Numbers 42 and 3.14159",
    "naïve café — déjà vu",
    "東京タワー and emoji 🚢",
    "line one\nline two",
    "",
]


def main():
    out = sys.argv[1]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS),
        model_writer=model,
        model_type="bpe",
        vocab_size=500,
        hard_vocab_limit=False,
        byte_fallback=True,
        character_coverage=1.0,
        split_digits=True,
        # Llama's own model: no NFKC, spaces kept as they are.
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        bos_id=1,
        eos_id=2,
        unk_id=0,
        pad_id=-1,
    )
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    tokens, scores, types = [], [], []
    for i in range(sp.get_piece_size()):
        tokens.append(sp.id_to_piece(i))
        scores.append(sp.get_score(i))
        # llama.cpp's token types: 1 normal, 2 unknown, 3 control, 6 byte
        types.append(2 if sp.is_unknown(i) else 3 if sp.is_control(i) else 6 if sp.is_byte(i) else 1)
    w = GGUFWriter(out + ".gguf", "llama")
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    cases = [{"text": t, "ids": sp.encode(t)} for t in CASES]
    with open(out + ".json", "w") as f:
        json.dump({"cases": cases}, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
