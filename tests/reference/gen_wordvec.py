#!/usr/bin/python3
"""gen_wordvec.py — tiny word vectors trained with Debian's gensim, in every format loom reads.

Trains Word2Vec (vector_size 8, one worker, fixed seed) on the titles and descriptions of the first 200
items of datasets/fashion-shop-sample, tokenised like loom's tokenizer but *without* case folding, so
that the file holds "Urbana", "A" and "a" side by side and loom's alignment has to fold. Writes, under
tests/reference/wordvec/:
  w2v.txt       word2vec text (header "N D", then word + D values, gensim's repr of each float32)
  w2v.bin       word2vec binary as gensim writes it (word, space, D float32 LE, no newline)
  w2v_nl.bin    word2vec binary as the original C tool writes it (a newline after each vector)
  glove.txt     GloVe text (no header)
  *.gz          gzip of each (mtime 0, so the bytes are reproducible)
  expected.fix  LOOMFIX1: vectors (N, D) float32 as gensim holds them; align_row (V) int32, the file
                row each id of the titles' vocabulary gets (-1: none; ids 0 and 1 are pad and OOV);
                counts = [found, missing, unused]; pre_rows (P) int32, the file rows that
                vocab_from_pretrained keeps, in id order from 2 (num_words = 0)
  titles_vocab.txt  the vocabulary loom fits on the titles of all 300 items, one word per line in id
                order from 2 (the C test checks loom builds the same one)
and the malformed files under tests/data/wordvec/ (each one fault; see tests/data/malformed.tsv).
Run from the repository root: /usr/bin/python3 tests/reference/gen_wordvec.py
"""
import csv
import gzip
import os
import struct
import sys

import numpy as np
from gensim.models import Word2Vec

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
import fixture  # noqa: E402
from word_vectors import fold_word, stable_hash, tokens  # noqa: E402  (loom's tokenizer, in Python)

OUT = "tests/reference/wordvec"
BAD = "tests/data/wordvec"


def main():
    items = list(csv.DictReader(open("datasets/fashion-shop-sample/items.csv", encoding="utf-8")))
    sents = [tokens(it["title"] + " " + it["description"], False) for it in items[:200]]
    model = Word2Vec(sents, vector_size=8, window=3, min_count=1, workers=1, seed=7, epochs=5, sg=1,
                     hashfxn=stable_hash)
    kv = model.wv
    words, vecs = list(kv.index_to_key), kv.vectors.astype(np.float32)
    N, D = vecs.shape
    os.makedirs(OUT, exist_ok=True)
    kv.save_word2vec_format(f"{OUT}/w2v.txt", binary=False)
    kv.save_word2vec_format(f"{OUT}/w2v.bin", binary=True)
    with open(f"{OUT}/w2v_nl.bin", "wb") as f:
        f.write(f"{N} {D}\n".encode())
        for w, v in zip(words, vecs):
            f.write(w.encode() + b" " + v.astype("<f4").tobytes() + b"\n")
    with open(f"{OUT}/glove.txt", "w", encoding="utf-8") as f:
        for w, v in zip(words, vecs):
            f.write(w + " " + " ".join("%.9g" % x for x in v) + "\n")
    for name in ["w2v.txt", "w2v.bin", "glove.txt"]:
        with open(f"{OUT}/{name}", "rb") as f, open(f"{OUT}/{name}.gz", "wb") as g:
            g.write(gzip.compress(f.read(), mtime=0))

    # loom's vocabulary of all 300 titles: count, then descending count, ties by first occurrence
    count, first = {}, {}
    for it in items:
        for t in tokens(it["title"], True):
            first.setdefault(t, len(first))
            count[t] = count.get(t, 0) + 1
    vocab = sorted(count, key=lambda t: (-count[t], first[t]))
    with open(f"{OUT}/titles_vocab.txt", "w", encoding="utf-8") as f:
        f.write("".join(w + "\n" for w in vocab))
    # alignment: a file word already in folded form wins; else the first file word that folds to it
    row_of = {}
    for i, w in enumerate(words):
        if fold_word(w) == w:
            row_of[w] = i
    for i, w in enumerate(words):
        fw = fold_word(w)
        if fw is not None and fw not in row_of:
            row_of[fw] = i
    align = [-1, -1] + [row_of.get(w, -1) for w in vocab]
    found = sum(1 for r in align[2:] if r >= 0)
    counts = [found, len(vocab) - found, N - found]
    # vocab_from_pretrained: folded file words in file order, first of each form, each with its row
    pre, seen = [], set()
    for w in words:
        fw = fold_word(w)
        if fw is None or fw in seen:
            continue
        seen.add(fw)
        pre.append(row_of[fw])
    fixture.write(f"{OUT}/expected.fix", {"vectors": vecs, "align_row": np.array(align, dtype=np.int32),
                                          "counts": np.array(counts, dtype=np.int32),
                                          "pre_rows": np.array(pre, dtype=np.int32)})
    print(f"{N} words x {D}; titles vocabulary {len(vocab)}: found {found}, missing {counts[1]}, "
          f"unused {counts[2]}; vocab_from_pretrained keeps {len(pre)}")

    # ---- malformed files: one fault each
    os.makedirs(BAD, exist_ok=True)
    txt = open(f"{OUT}/w2v.txt", "rb").read().split(b"\n")
    head, body = txt[0], txt[1:6]  # five vectors

    def put(name, data):
        with open(f"{BAD}/{name}", "wb") as f:
            f.write(data)

    def lines(rows):
        return b"\n".join(rows) + b"\n"

    put("empty.txt", b"")
    put("header_dims.txt", lines([b"5 7"] + body))                   # D is 8
    put("header_count.txt", lines([b"9 8"] + body))                  # 5 vectors, not 9
    put("header_zero.txt", lines([b"0 8"]))
    put("short_vector.txt", lines([b"5 8"] + body[:2] + [body[2].rsplit(b" ", 1)[0]] + body[3:]))
    put("long_vector.txt", lines([b"5 8"] + body[:3] + [body[3] + b" 0.5"] + body[4:]))
    g = [r for r in open(f"{OUT}/glove.txt", "rb").read().split(b"\n")[:5]]
    put("glove_short.txt", lines(g[:3] + [g[3].rsplit(b" ", 1)[0]] + g[4:]))
    put("non_utf8.txt", lines([b"5 8"] + body[:1] + [b"caf\xe9" + body[1][body[1].index(b" "):]] + body[2:]))
    put("duplicate.txt", lines([b"5 8"] + body[:4] + [body[1].split(b" ")[0] + body[4][body[4].index(b" "):]]))
    for name, bad in [("nan.txt", b"nan"), ("inf.txt", b"-inf"), ("hex.txt", b"0x1p3"), ("overflow.txt", b"1e39")]:
        row = body[2].split(b" ")
        row[4] = bad
        put(name, lines([b"5 8"] + body[:2] + [b" ".join(row)] + body[3:]))
    b = open(f"{OUT}/w2v.bin", "rb").read()
    hdr = b.index(b"\n") + 1
    rec = [hdr]
    p = hdr
    for _ in range(5):
        p = b.index(b" ", p) + 1 + 4 * D
        rec.append(p)
    five = f"5 {D}\n".encode() + b[hdr:rec[5]]
    put("truncated.bin", five[: len(f"5 {D}\n") + (rec[3] - hdr) + 2 + 13])   # inside record 4's vector
    put("header_count.bin", f"7 {D}\n".encode() + b[hdr:rec[5]])               # 5 records, not 7
    put("extra.bin", five + b"\nmore")
    wpos = rec[2] - hdr + len(f"5 {D}\n")
    nan = bytearray(five)
    sp = nan.index(b" ", wpos) + 1
    nan[sp + 8: sp + 12] = struct.pack("<f", float("nan"))
    put("nan.bin", bytes(nan))
    put("truncated.txt.gz", gzip.compress(open(f"{OUT}/w2v.txt", "rb").read(), mtime=0)[:-9])
    crc = bytearray(gzip.compress(lines([b"5 8"] + body), mtime=0))
    crc[-8] ^= 0xFF  # the trailer's CRC-32 no longer matches the data
    put("bad_crc.txt.gz", bytes(crc))


if __name__ == "__main__":
    main()
