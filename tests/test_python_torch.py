"""test_python_torch.py — loom.torch.load: each checkpoint trained here from the committed sample, rebuilt in
PyTorch, gives loom's outputs within 1e-5 on a batch of the run's own validation split (the inputs exactly
as loom's graph sees them, loom.export_batch); its Preprocessing agrees with the checkpoint's tables.
Run by tests/test_python_torch.sh as: /usr/bin/python3 tests/test_python_torch.py BIN_DIR, in the source tree."""
import subprocess
import sys
import tempfile

import torch

import loom
import loom.torch

TMP = tempfile.mkdtemp(prefix="test_python_torch_")
SMALL = {"text.embedding_dim": 8, "text.hidden": 8, "image.filters": "4,8", "image.dense": 16, "train.epochs": 1}
TOL = 1e-5
RUNS = [  # name, config, overrides
    ("click", "configs/fashion-shop-click.ini", {}),  # text + shared query + image + user/category IDs, DCN
    ("click-gru-gated", "configs/fashion-shop-click.ini",  # own query tower, BiGRU x2 max pooling, gated fusion
     {"text.encoder": "gru", "text.bidirectional": "true", "text.layers": 2, "text.pooling": "max",
      "text.share_query": "false", "fusion.mode": "gated", "fusion.cross_layers": 0, "fusion.dim": 16,
      "interaction.item_dim": 8, "image.batchnorm": "true", "image.pool_type": "avg"}),
    ("click-last-concat", "configs/fashion-shop-click.ini",  # last pooling, valid padding, concat
     {"text.pooling": "last", "fusion.mode": "concat", "fusion.cross_layers": 0, "image.padding": "valid",
      "image.encoder": "conv"}),
    ("category", "configs/fashion-shop-category.ini", {}),  # image classifier with batch norm (multiclass)
    ("category-rows", "ROWS",  # the rows image encoder (a copy of the category config without its conv keys)
     {"image.encoder": "rows", "image.lstm_hidden": 16, "image.lstm_bidirectional": "true", "image.lstm_pooling": "mean"}),
    ("ranking", "configs/fashion-shop-ranking.ini", {"fusion.dim": 16, "train.max_steps": 20}),
    ("retrieval", "configs/fashion-shop-retrieval.ini", {"fusion.dim": 16}),
]


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)


only = sys.argv[2:] or [r[0] for r in RUNS]
for name, config, extra in RUNS:
    if name not in only:
        continue
    sets = {**(SMALL if "category" not in name else {"train.epochs": 1}), **extra, "train.out": f"{TMP}/{name}"}
    if config == "ROWS":
        config = f"{TMP}/rows.ini"
        with open("configs/fashion-shop-category.ini") as f, open(config, "w") as out:
            out.writelines(ln for ln in f if ln.split("=")[0].strip() not in ("filters", "kernel", "padding", "pool",
                                                                                "batchnorm"))
    run = loom.train(config, sets=sets)
    _, io = loom.export_batch(run.best, f"{TMP}/{name}_io.safetensors", split="val")
    model, prep = loom.torch.load(run.best)
    x = {k: torch.from_numpy(v) for k, v in io.items()}
    with torch.no_grad():
        if isinstance(model, loom.torch.RankingModel):
            u, v = model(x)
            got = {"user_vec": u, "item_vec": v, "logits": model.scores(x)}
        else:
            got = {"logits": model(x)}
    worst = 0.0
    for k, t in got.items():
        check(t.shape == x[k].shape, f"{name}: {k} shape {tuple(t.shape)} vs loom {tuple(x[k].shape)}")
        worst = max(worst, float((t - x[k]).abs().max()))
    check(worst <= TOL, f"{name}: max |torch - loom| = {worst:.3g} > {TOL}")
    # the preprocessing tables agree with the embedding tables they index
    sd = model.state_dict()
    if "text.embedding.weight" in sd:
        check(sd["text.embedding.weight"].shape[0] == len(prep.words) + 2, f"{name}: vocab + 2 rows")
    if "interaction.user_embedding.weight" in sd:
        check(sd["interaction.user_embedding.weight"].shape[0] == len(prep.users) + 1, f"{name}: users + 1 rows")
    if "interaction.item_embedding.weight" in sd:
        check(sd["interaction.item_embedding.weight"].shape[0] == len(prep.items) + 1, f"{name}: items + 1 rows")
    if "interaction.category_embedding.weight" in sd:
        check(sd["interaction.category_embedding.weight"].shape[0] == prep.category_rows, f"{name}: category rows")
        ids = prep.category_ids([prep.categories[j][0] for j in range(len(prep.categories))])
        check(ids == [o + 1 for o in prep.category_offsets], f"{name}: category ids {ids}")
        c = x["category"]
        for j, off in enumerate(prep.category_offsets):
            check(bool(((c[:, j] >= off) & (c[:, j] <= off + len(prep.categories[j]))).all()),
                  f"{name}: category column {j} outside its offset range")
    if "numeric" in x:
        check(x["numeric"].shape[1] == len(prep.numeric_cols) == len(prep.numeric["mean"]), f"{name}: numeric cols")
    if prep.labels:
        check(model.head.out_features == len(prep.labels), f"{name}: classes vs labels")
    n = sum(p.numel() for p in model.parameters())
    print(f"{name}: {len(sd)} tensors loaded strictly ({n} parameters), batch {next(iter(x.values())).shape[0]}: "
          f"max |torch - loom| = {worst:.2g}")
subprocess.run(["rm", "-rf", TMP])
print("test_python_torch: ok")
