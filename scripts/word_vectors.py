#!/usr/bin/python3
"""word_vectors.py — word2vec vectors for text.pretrained, trained with Debian's gensim (python3-gensim)
on text columns of a CSV file, tokenised as loom's tokenizer does (src/data/text.c: separators are
Unicode categories P*, S*, Z*, C*; each CJK ideograph or kana is a token; full case folding), so every
word of the file matches a token loom produces.

  /usr/bin/python3 scripts/word_vectors.py --csv datasets/fashion-shop-sample/items.csv \\
      --cols title,description --dim 32 --out items.bin        # .bin: word2vec binary; .txt: text;
                                                               # --glove: no header; .gz: gzip'd
Deterministic for a given input and seed (one worker; gensim's per-word seeds from a stable hash).
"""
import argparse
import csv
import gzip
import hashlib
import unicodedata


def is_cjk(c):
    c = ord(c)
    return (0x4E00 <= c <= 0x9FFF or 0x3400 <= c <= 0x4DBF or 0x20000 <= c <= 0x2FA1F or 0xF900 <= c <= 0xFAFF
            or 0x3040 <= c <= 0x30FF or 0x31F0 <= c <= 0x31FF)


def is_sep(c):
    return unicodedata.category(c)[0] in "PSZC"


def tokens(text, fold=True):
    """loom_tokenize: separators P*, S*, Z*, C*; CJK one token each; casefold when fold."""
    out, word = [], ""
    for c in text:
        if is_sep(c) or is_cjk(c):
            if word:
                out.append(word)
            word = ""
            if is_cjk(c):
                out.append(c.casefold() if fold else c)
            continue
        word += c.casefold() if fold else c
    if word:
        out.append(word)
    return out


def fold_word(w):
    """A file word's form after loom's normalisation, or None when it is not exactly one token."""
    t = tokens(w, True)
    return t[0] if len(t) == 1 else None


def stable_hash(s):
    """gensim seeds each word's initial vector from hash(word); Python's str hash changes per process."""
    return int(hashlib.sha256(s.encode()).hexdigest()[:8], 16)


def train(sentences, dim, seed, window=5, epochs=50):
    from gensim.models import Word2Vec
    return Word2Vec(sentences, vector_size=dim, window=window, min_count=1, workers=1, seed=seed, epochs=epochs,
                    sg=1, hashfxn=stable_hash).wv


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--csv", required=True)
    ap.add_argument("--cols", required=True, help="comma-separated text columns, joined per row")
    ap.add_argument("--dim", type=int, default=32, help="vector size = text.embedding_dim")
    ap.add_argument("--out", required=True, help="NAME.bin[.gz]: word2vec binary; else word2vec text")
    ap.add_argument("--glove", action="store_true", help="GloVe text: no header line")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--window", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=50)
    a = ap.parse_args()
    cols = [c.strip() for c in a.cols.split(",")]
    rows = list(csv.DictReader(open(a.csv, encoding="utf-8")))
    kv = train([tokens(" ".join(r[c] for c in cols)) for r in rows], a.dim, a.seed, a.window, a.epochs)
    base = a.out[:-3] if a.out.endswith(".gz") else a.out
    tmp = base if not a.out.endswith(".gz") else a.out + ".tmp"
    if a.glove:
        with open(tmp, "w", encoding="utf-8") as f:
            for w, v in zip(kv.index_to_key, kv.vectors):
                f.write(w + " " + " ".join(repr(x) for x in v) + "\n")
    else:
        kv.save_word2vec_format(tmp, binary=base.endswith(".bin"))
    if a.out.endswith(".gz"):
        import os
        with open(tmp, "rb") as f, open(a.out, "wb") as g:
            g.write(gzip.compress(f.read(), mtime=0))
        os.remove(tmp)
    print(f"{a.out}: {len(kv.index_to_key)} words x {a.dim} from {len(rows)} rows of {a.csv}")


if __name__ == "__main__":
    main()
