"""test_onnx.py — loom-export onnx on checkpoints trained here from the committed sample: each ONNX file passes
onnx.checker (full check, with shape inference), and ONNX Runtime (npm onnxruntime-node, tests/onnx/run_onnx.js)
gives loom's outputs on a batch of the run's own validation split (loom.export_batch: the graph inputs exactly as
loom sees them, and loom's logits / vectors) within 1e-5 relative (|onnx - loom| <= 1e-5 max(|loom|, 1)); the
binary model's ONNX scores equal loom-infer score's on the same rows. (An op without a mapping: test_onnx_encode.c.)
Run by tests/test_onnx.sh as: /usr/bin/python3 tests/test_onnx.py BIN_DIR NODE_MODULES_DIR, in the source tree."""
import csv
import json
import os
import subprocess
import sys
import tempfile

import onnx

import loom

BIN, NODE_MODULES = sys.argv[1], sys.argv[2]
TMP = tempfile.mkdtemp(prefix="test_onnx_")
SMALL = {"text.embedding_dim": 8, "text.hidden": 8, "image.filters": "4,8", "image.dense": 16, "train.epochs": 1}
TOL = 1e-5
RUNS = [  # name, config, overrides (the models tests/test_python_torch.py rebuilds in PyTorch)
    ("click", "configs/fashion-shop-click.ini", {}),  # text LSTM + shared query + image conv + user/category IDs, DCN
    ("click-gru-gated", "configs/fashion-shop-click.ini",  # own query tower, BiGRU x2 max pooling, gated fusion
     {"text.encoder": "gru", "text.bidirectional": "true", "text.layers": 2, "text.pooling": "max",
      "text.share_query": "false", "fusion.mode": "gated", "fusion.cross_layers": 0, "fusion.dim": 16,
      "interaction.item_dim": 8, "image.batchnorm": "true", "image.pool_type": "avg"}),
    ("click-last-concat", "configs/fashion-shop-click.ini",  # BiLSTM last pooling, valid padding, concat
     {"text.pooling": "last", "text.bidirectional": "true", "fusion.mode": "concat", "fusion.cross_layers": 0,
      "image.padding": "valid"}),
    ("click-transformer", "configs/fashion-shop-click.ini",  # transformer text encoder (mha, layernorm, gelu)
     {"text.encoder": "transformer", "text.hidden": None, "text.heads": 2, "text.pooling": "max"}),
    ("click-textcnn", "configs/fashion-shop-click.ini",  # TextCNN text encoder (conv1d_max)
     {"text.encoder": "cnn", "text.hidden": None, "text.pooling": None}),
    ("click-fm", "configs/fashion-shop-click.ini", {"fusion.mode": "fm", "fusion.cross_layers": None}),  # FM fusion
    ("click-history", "configs/fashion-shop-history.ini", {"train.max_steps": 10}),  # histories, target attention
    ("click-din-attention", "configs/fashion-shop-history.ini",  # DIN histories over item text, attention fusion
     {"interaction.history_pooling": "din", "interaction.history_content": "all", "fusion.mode": "attention",
      "fusion.cross_layers": None, "fusion.dim": 16, "train.max_steps": 10}),
    ("click-video", "configs/fashion-shop-video.ini", {"train.max_steps": 10}),  # photo + video frames
    ("category", "configs/fashion-shop-category.ini", {}),
    ("category-rows", "configs/fashion-shop-category.ini",  # the rows image encoder (an LSTM over image rows)
     {"image.encoder": "rows", "image.lstm_hidden": 16, "image.lstm_bidirectional": "true",
      "image.lstm_pooling": "mean", "image.filters": None, "image.kernel": None, "image.padding": None,
      "image.pool": None, "image.batchnorm": None}),  # image classifier with batch norm (multiclass)
    ("ranking", "configs/fashion-shop-ranking.ini", {"fusion.dim": 16, "train.max_steps": 20}),
    ("retrieval", "configs/fashion-shop-retrieval.ini", {"fusion.dim": 16}),
]


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)


def without_keys(config, keys, out):
    """A copy of config without the lines setting section.key for each of keys (the rest as written)."""
    sec = ""
    with open(config, encoding="utf-8") as f, open(out, "w", encoding="utf-8") as o:
        for ln in f:
            st = ln.strip()
            if st.startswith("[") and st.endswith("]"):
                sec = st[1:-1].strip()
            elif "=" in st and not st.startswith((";", "#")) and f"{sec}.{st.split('=')[0].strip()}" in keys:
                continue
            o.write(ln)
    return out


def export(ckpt, out, *extra):
    return subprocess.run([f"{BIN}/loom-export", "onnx", ckpt, out, *extra], capture_output=True, text=True)


# node needs no sanitizer runtime (a sanitized build preloads one for Python's sake, tests/test_onnx.sh)
NODE_ENV = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS")}


def run_ort(model, batch, *flags):
    r = subprocess.run(["node", "tests/onnx/run_onnx.js", NODE_MODULES, model, batch, *flags], capture_output=True,
                       text=True, env=NODE_ENV)
    check(r.returncode == 0, f"onnxruntime on {model}: {r.stderr.strip()}")
    return json.loads(r.stdout)


only = sys.argv[3:] or [r[0] for r in RUNS]
summary = []
for name, config, extra in RUNS:
    if name not in only:
        continue
    small = {k: v for k, v in SMALL.items() if "history" not in config or not k.startswith("image.")}
    sets = {**(small if "category" not in name else {"train.epochs": 1}), **extra, "train.out": f"{TMP}/{name}"}
    drop = {k for k, v in sets.items() if v is None}  # None: a key of the config file the variant must not set
    sets = {k: v for k, v in sets.items() if v is not None}
    if drop:
        config = without_keys(config, drop, f"{TMP}/{name}.ini")
    run = loom.train(config, sets=sets)
    io, model = f"{TMP}/{name}_io.safetensors", f"{TMP}/{name}.onnx"
    loom.export_batch(run.best, io, split="val")
    r = export(run.best, model)
    check(r.returncode == 0, f"{name}: loom-export: {r.stderr.strip()}")
    m = onnx.load(model)
    onnx.checker.check_model(m, full_check=True)
    check(m.opset_import[0].version >= 13, f"{name}: opset {m.opset_import[0].version}")
    meta = {p.key: p.value for p in m.metadata_props}
    check(json.loads(meta["loom.prep"])["version"] == 1 and meta["loom.task"] in r.stdout + "binary multiclass ranking retrieval",
          f"{name}: metadata {list(meta)}")
    for i in m.graph.input:  # dynamic batch on every input
        check(i.type.tensor_type.shape.dim[0].dim_param == "batch", f"{name}: input {i.name} has no dynamic batch")
    derived = {"tokens_inv_len", "tokens_mask", "query_inv_len", "query_mask"}  # computed in the file from the lengths
    check(not derived & {i.name for i in m.graph.input}, f"{name}: derived inputs {[i.name for i in m.graph.input]}")
    rep = run_ort(model, io, "--values")
    check(rep["outputs"], f"{name}: no output compared: {rep}")
    worst = 0.0
    for out, d in rep["outputs"].items():
        check("error" not in d, f"{name}: {out}: {d.get('error')}")
        check(d["max_rel"] <= TOL, f"{name}: {out}: max relative difference {d['max_rel']:.3g} > {TOL}")
        worst = max(worst, d["max_rel"])
    line = (f"{name}: {len(m.graph.node)} ONNX nodes, inputs {', '.join(rep['inputs'])}; " +
            "; ".join(f"{o} {tuple(d['dims'])} max |onnx - loom| {d['max_abs']:.2g} (rel {d['max_rel']:.2g})"
                      for o, d in rep["outputs"].items()))
    print(line)
    summary.append(line)
    if name == "retrieval":
        # --outputs item_vec: the item tower alone, its inputs only, the same vectors
        tower = f"{TMP}/{name}_items.onnx"
        r = export(run.best, tower, "--outputs", "item_vec")
        check(r.returncode == 0, f"--outputs item_vec: {r.stderr.strip()}")
        m2 = onnx.load(tower)
        onnx.checker.check_model(m2, full_check=True)
        ins = sorted(i.name for i in m2.graph.input)
        check([o.name for o in m2.graph.output] == ["item_vec"] and "query" not in ins, f"item tower: {ins}")
        rep2 = run_ort(tower, io)
        check(rep2["outputs"]["item_vec"]["max_rel"] <= TOL, f"item tower: {rep2}")
        r = export(run.best, tower, "--outputs", "score")
        check(r.returncode == 1 and "'score' is not an output of this retrieval model" in r.stderr, f"--outputs score: {r.stderr}")
        print(f"retrieval --outputs item_vec: inputs {', '.join(ins)}; max rel {rep2['outputs']['item_vec']['max_rel']:.2g}")
    if name == "click":
        # the ONNX scores are loom-infer's: score the batch's rows (the first rows of the validation split)
        rows = [ln for ln in open("datasets/fashion-shop-sample/interactions.csv", encoding="utf-8")]
        val = [rows[0]] + [ln for ln in rows[1:] if ln.rstrip("\n").endswith(",valid")]
        B = rep["outputs"]["score"]["dims"][0]
        with open(f"{TMP}/val.csv", "w", encoding="utf-8") as f:
            f.writelines(val[:B + 1])
        s = subprocess.run([f"{BIN}/loom-infer", "score", run.best, "--input", f"{TMP}/val.csv", "--format", "csv"],
                           capture_output=True, text=True)
        check(s.returncode == 0, f"loom-infer score: {s.stderr}")
        infer_scores = [float(r["score"]) for r in csv.DictReader(s.stdout.splitlines())]
        check(len(infer_scores) == B, f"loom-infer scored {len(infer_scores)} rows, expected {B}")
        got = rep["outputs"]["score"]["values"]
        worst_infer = max(abs(x - y) / max(abs(y), 1.0) for x, y in zip(got, infer_scores))
        # loom-infer prints 6 significant digits: half a unit of the 6th digit is its own rounding
        check(all(abs(x - y) <= max(TOL * max(abs(y), 1.0), 5e-7 * abs(y) + 1e-12) for x, y in zip(got, infer_scores)),
              f"click: ONNX scores differ from loom-infer score's by up to {worst_infer:.3g}")
        # loom.Checkpoint.export_onnx writes the same bytes (the encoding is deterministic), and the session
        # scores as before afterwards
        ck = loom.open(run.best)
        before = [r.score for r in ck.score(f"{TMP}/val.csv")]
        ck.export_onnx(f"{TMP}/py.onnx")
        check(open(f"{TMP}/py.onnx", "rb").read() == open(model, "rb").read(), "export_onnx differs from loom-export's")
        check([r.score for r in ck.score(f"{TMP}/val.csv")] == before, "scores changed after export_onnx")
        ck.close()
        line = f"click: ONNX score vs loom-infer score on the same {B} rows: max relative difference {worst_infer:.2g}"
        print(line)
        summary.append(line)

subprocess.run(["rm", "-rf", TMP])
print("test_onnx: ok")
