"""test_python_loom.py — python/loom over libloom.so, checked against loom-infer on checkpoints trained here
through loom.train from the committed sample. Run by tests/test_python.sh (which sets LOOM_LIBRARY and
PYTHONPATH) as: /usr/bin/python3 tests/test_python_loom.py BIN_DIR, in the source tree."""
import csv
import io
import math
import os
import subprocess
import sys
import tempfile

import numpy as np

import loom

BIN = sys.argv[1]
TMP = tempfile.mkdtemp(prefix="test_python_")
SMALL = {"text.embedding_dim": 8, "text.hidden": 8, "image.filters": "4,8", "image.dense": 16, "train.epochs": 1}
SAMPLE = "datasets/fashion-shop-sample"


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)


def infer(*args):
    out = subprocess.run([os.path.join(BIN, "loom-infer"), *args, "--format", "csv"], capture_output=True, text=True)
    check(out.returncode == 0, f"loom-infer {' '.join(args)}: {out.stderr}")
    return list(csv.DictReader(io.StringIO(out.stdout)))


def close(a, b, tol, what):
    check(abs(a - b) <= tol * max(1.0, abs(b)), f"{what}: {a!r} vs {b!r}")


print("libloom", loom.version(), "at", loom.library()._name)

# ---- training with the progress callback
events = []
run = loom.train("configs/fashion-shop-click.ini", sets={**SMALL, "train.out": f"{TMP}/click", "train.log_every": 10},
                 callback=events.append)
kinds = [e.event for e in events]
check(not run.stopped, "the click run says it was stopped")
check(kinds.count("step") >= 5 and kinds.count("eval") == 1 and kinds[-1] == "done", f"events {kinds}")
steps = [e.step for e in events if e.event == "step"]
check(steps == sorted(steps) and steps[0] == 10 and all(b - a == 10 for a, b in zip(steps, steps[1:])), f"steps {steps}")
check(all(math.isfinite(e.loss) and e.lr > 0 for e in events if e.event == "step"), "step losses / lr not finite")
ev = [e for e in events if e.event == "eval"][0]
rows = run.metrics()
check(len(rows) == 1 and list(ev.metrics)[0] == "val_loss", f"metrics.csv rows {len(rows)}, eval names {list(ev.metrics)}")
for k, v in ev.metrics.items():
    close(v, rows[-1][k], 1e-5, f"callback {k} vs metrics.csv")
res = run.result()
check(res["status"] == "finished" and res["steps"] == events[-1].step and res["monitor"] == "auc",
      f"result.json {res}")
print(f"train: {len(events)} callbacks ({kinds.count('step')} step, 1 eval, done), auc {ev.metrics['auc']:.4f} "
      f"= metrics.csv")

# a callback that returns True stops the run, checkpointed and resumable
seen = []
stopped = loom.train("configs/fashion-shop-click.ini",
                     sets={**SMALL, "train.out": f"{TMP}/stop", "train.log_every": 5, "train.epochs": 3},
                     callback=lambda p: seen.append(p.step) or p.step >= 15)
check(stopped.stopped and seen[-1] == 15 and os.path.exists(stopped.last), f"stop from the callback: {seen}, {stopped}")
resumed = loom.train(resume=stopped.run_dir, sets={"train.epochs": 3})
check(not resumed.stopped and resumed.metrics()[-1]["step"] > 15, "resume after a callback stop")
print(f"train: callback stop at step {seen[-1]}, resumed to step {int(resumed.metrics()[-1]['step'])}")

# a Python exception in the callback stops the run and reaches the caller
try:
    loom.train("configs/fashion-shop-click.ini", sets={**SMALL, "train.out": f"{TMP}/exc", "train.log_every": 5},
               callback=lambda p: 1 / 0)
    check(False, "the callback's exception was swallowed")
except ZeroDivisionError:
    pass
try:
    loom.train("configs/fashion-shop-click.ini", sets={"train.no_such_key": 1, "train.out": f"{TMP}/bad"})
    check(False, "a bad key trained")
except loom.Error as e:
    check("no_such_key" in str(e), f"bad key message: {e}")

# ---- scoring equals loom-infer score
ck = loom.open(run.best)
check(ck.task == "binary", ck.task)
inter = f"{SAMPLE}/interactions.csv"
mine = ck.score(inter)
want = infer("score", run.best, "--input", inter)
check(len(mine) == len(want) and len(mine) > 1000, f"rows {len(mine)} vs {len(want)}")
worst = 0.0
for r, w in zip(mine, want):
    check(r.line == int(w["line"]) and r.user == w["user"] and r.item == w["item"], f"row {r} vs {w}")
    worst = max(worst, abs(r.score - float(w["score"])), abs(r.logit - float(w["logit"])))
check(worst < 1e-6, f"score differs from loom-infer by {worst}")
arr = ck.scores(inter)
check(isinstance(arr, np.ndarray) and arr.dtype == np.float32 and arr.shape == (len(want),), "scores() array")
first = []
check(ck.score(inter, callback=lambda r: first.append(r) or len(first) == 3) == 1 and len(first) == 3, "score stop")
print(f"score: {len(mine)} rows, max |python - loom-infer| = {worst:.2g}")

# the click model ranks the catalogue for a user and a query as loom-infer does
hits = ck.rank("u00042", "black ankle boot", k=5)
want = infer("rank", run.best, "--user", "u00042", "--query", "black ankle boot", "--top", "5")
check([h.item for h in hits] == [w["item"] for w in want], f"rank {hits} vs {want}")
for h, w in zip(hits, want):
    close(h.score, float(w["score"]), 1e-6, "rank score")
_, flags = ck.rank("nobody-at-all", None, k=3, with_flags=True)
check(flags & loom.UNKNOWN_USER, f"unknown user flags {flags}")
ev_val = ck.eval(split="val")
close(ev_val["auc"], rows[-1]["auc"], 1e-5, "eval(split=val) auc vs the run's validation")
ck.close()
try:
    ck.rank("u00042", k=1)
    check(False, "a closed session ranked")
except loom.Error:
    pass
print(f"rank: {[h.item for h in hits]} = loom-infer; eval val auc {ev_val['auc']:.4f} = metrics.csv")

# ---- two towers: rank, embed, vectors
rank = loom.train("configs/fashion-shop-ranking.ini",
                  sets={**SMALL, "fusion.dim": 16, "train.max_steps": 20, "train.out": f"{TMP}/rank"})
with loom.open(rank.best) as rk:
    hits = rk.rank("u00042", "black ankle boot", k=10)
    want = infer("rank", rank.best, "--user", "u00042", "--query", "black ankle boot", "--top", "10")
    check([h.item for h in hits] == [w["item"] for w in want], f"ranking {hits} vs {want}")
    for h, w in zip(hits, want):
        close(h.score, float(w["score"]), 1e-6, "ranking score")
        check(h.title == w["title"], f"title {h.title!r} vs {w['title']!r}")
    ids, vecs = rk.embed("items")
    iv = rk.item_vectors()
    check(len(ids) == rk.catalog_size() == vecs.shape[0] and vecs.shape[1] == rk.dim, f"embed {vecs.shape}")
    check(ids[:3] == [rk.item_key(i) for i in range(3)], "embed ids vs item_key")
    check(np.abs(vecs - iv).max() == 0, "embed vs item_vectors")
    path = f"{TMP}/items.safetensors"
    rk.embed("items", path)
    check(os.path.exists(path), "embed out_path")
    uids, uv = rk.embed("users")
    u = rk.user_vector("u00042")
    check(np.abs(uv[uids.index("u00042")] - u).max() < 1e-6, "user_vector vs embed users")
    q = rk.user_vector("u00042", "black ankle boot")
    s = iv @ q
    check([ids[i] for i in np.argsort(-s, kind="stable")[:10]] == [h.item for h in hits], "v·u order vs rank")
print(f"ranking: top 10 = loom-infer; embed items {vecs.shape}, users {uv.shape}; user_vector = embed users")

ret = loom.train("configs/fashion-shop-retrieval.ini", sets={**SMALL, "fusion.dim": 16, "train.out": f"{TMP}/ret"})
with loom.open(ret.best) as rt:
    hits = rt.search(text="black ankle boot", k=5)
    want = infer("search", ret.best, "--text", "black ankle boot", "--top", "5")
    check([h.item for h in hits] == [w["item"] for w in want], f"search {hits} vs {want}")
    img = rt.search(image=f"{SAMPLE}/images/i00000.png", k=3)
    want = infer("search", ret.best, "--image", f"{SAMPLE}/images/i00000.png", "--top", "3")
    check([h.item for h in img] == [w["item"] for w in want], f"image search {img} vs {want}")
print(f"search: text and image = loom-infer ({[h.item for h in hits][:3]}...)")

# ---- multiclass: probabilities and class names
cat = loom.train("configs/fashion-shop-category.ini", sets={"train.epochs": 1, "train.out": f"{TMP}/cat"})
with loom.open(cat.best) as cc:
    names = cc.class_names()
    check(cc.task == "multiclass" and len(names) == cc.n_classes == 10, f"classes {names}")
    rows = cc.score(f"{SAMPLE}/items.csv")
    want = infer("score", cat.best, "--input", f"{SAMPLE}/items.csv")
    for r, w in zip(rows, want):
        check(len(r.probs) == 10 and abs(float(np.sum(r.probs)) - 1) < 1e-5, "probs sum")
        check(r.cls == int(np.argmax(r.probs)) and names[r.cls] == w["class"], f"class {r.cls} vs {w['class']}")
        close(r.score, float(w["score"]), 1e-6, "multiclass score")
print(f"multiclass: {len(rows)} rows, classes and P(class) = loom-infer")

# ---- without numpy: the standard library path
code = ("import sys; sys.modules['numpy'] = None\nimport loom\nck = loom.open(sys.argv[1])\n"
        "v = ck.item_vectors(); u = ck.user_vector('u00042')\n"
        "assert isinstance(v, list) and isinstance(u, list) and len(v) == ck.catalog_size() and len(u) == ck.dim\n"
        "assert [h.item for h in ck.rank('u00042', 'black ankle boot', k=3)]\n"
        "ids, vecs = ck.embed('items'); assert vecs[0] == 'F32' and len(vecs[2]) == len(ids) * ck.dim\nprint('ok')\n")
out = subprocess.run([sys.executable, "-c", code, rank.best], capture_output=True, text=True)
check(out.returncode == 0 and out.stdout.strip() == "ok", f"without numpy: {out.stderr}")
print("no numpy: lists from the standard library")

try:
    loom.open(f"{SAMPLE}/items.csv")
    check(False, "opened a CSV as a checkpoint")
except loom.Error as e:
    check("items.csv" in str(e), f"error names the file: {e}")
subprocess.run(["rm", "-rf", TMP])
print("test_python_loom: ok")
