"""loom.torch — a loom-train checkpoint as the equivalent torch.nn.Module, plus its preprocessing.

    import loom.torch
    model, prep = loom.torch.load("runs/fashion-shop-click/best.safetensors")
    with torch.no_grad():
        logits = model(inputs)     # inputs: {graph input name: tensor}, as loom.export_batch writes them

The module's parameters carry loom's tensor names (text.embedding.weight, text.lstm.weight_ih_l0,
image.conv0.weight, interaction.user_embedding.weight, fusion.cross0.weight, head.weight, ...) and are
loaded with load_state_dict(strict=True). forward(x) takes the graph's inputs by name (docs/checkpoint-format.md
lists them: tokens, tokens_len, query, query_len, image, numeric, user, item, category) and returns the
logits: binary (B), multiclass (B, K); a ranking / retrieval model returns (user_vec, item_vec) — see
RankingModel. prep is a Preprocessing: the vocabulary, ID maps, category offsets, numeric scaler and image
normalisation stored in the checkpoint, with the ID rules (vocab IDs +2, ID maps +1, one category table).

Supported: text encoders lstm and gru (pooling last / mean / max, bidirectional, layers), text.share_query
and query towers of their own, image encoders conv (same / valid padding, stride, batch norm, max / avg
pooling) and rows, the interaction tower (numeric dense, user, item and category embeddings), fusion
concat / sum / mean / weighted / product / gated / dcn, fusion.dense, the binary and multiclass heads,
and the two towers of ranking and retrieval models. Anything else (textcnn / transformer text encoders,
fm and attention fusion, user histories, video frames) raises NotImplementedError naming the key.
"""
import configparser
import json

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import safetensors as _st

__all__ = ["load", "Preprocessing", "PointwiseModel", "RankingModel"]

ACT = {"relu": F.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "gelu": F.gelu, "none": lambda x: x,
       "linear": lambda x: x}


def _ints(s):
    return [int(v) for v in str(s).replace(" ", "").split(",") if v]


class _Cfg:
    """The run config stored in the checkpoint (metadata loom.config), every key written out."""

    def __init__(self, text):
        self.p = configparser.ConfigParser(inline_comment_prefixes=(";", "#"), interpolation=None)
        self.p.read_string(text)

    def s(self, sec, key, default=""):
        return self.p[sec].get(key, default).strip() if sec in self.p else default

    def b(self, sec, key):
        return self.s(sec, key, "false").lower() in ("true", "yes", "on", "1")

    def i(self, sec, key, default=0):
        v = self.s(sec, key, "")
        return int(v) if v else default

    def ints(self, sec, key):
        return _ints(self.s(sec, key, ""))


class Preprocessing:
    """What turns raw rows into the model's inputs, as stored in the checkpoint (metadata loom.prep;
    docs/checkpoint-format.md): words (vocabulary, id = index + 2; 0 padding, 1 unknown word), users /
    items (id = index + 1; 0 unknown), categories (per column; one embedding table, column j's ids start at
    category_offsets[j], its unknown value at the offset itself), labels (class k = labels[k]), numeric
    (scaling, mean, std, min, max per numeric column) and image (C, H, W, per-channel mean and std)."""

    def __init__(self, prep_json, cfg):
        p = json.loads(prep_json)
        self.raw = p
        self.words = (p.get("vocab") or {}).get("words", [])
        self.word_id = {w: i + 2 for i, w in enumerate(self.words)}
        self.users = p.get("users", [])
        self.items = p.get("items", [])
        self.user_id = {u: i + 1 for i, u in enumerate(self.users)}
        self.item_id = {u: i + 1 for i, u in enumerate(self.items)}
        self.categories = p.get("categories", [])
        self.category_offsets, off = [], 0
        for col in self.categories:
            self.category_offsets.append(off)
            off += len(col) + 1
        self.category_rows = off
        self.labels = p.get("labels", [])
        self.numeric = p.get("numeric", {})
        self.image = p.get("image", {})
        d = cfg.p["data"] if "data" in cfg.p else {}
        self.numeric_cols = _split(d.get("numeric_cols", ""))
        self.category_cols = _split(d.get("category_cols", ""))
        self.text_cols = _split(d.get("text_cols", ""))
        self.numeric_missing = str(d.get("numeric_missing", "error")).strip()

    def category_ids(self, values):
        """The category input row (one id per category column, offset into the shared table) of the raw
        values of the category columns, in [data] category_cols order."""
        out = []
        for j, v in enumerate(values):
            col = self.categories[j]
            k = col.index(v) + 1 if v in col else 0
            out.append(self.category_offsets[j] + k)
        return out

    def scale_numeric(self, values):
        """The numeric input row of the raw numeric values ([data] numeric_cols order). standard:
        (x - mean) / std (std 0 -> 1); minmax: (x - min) / (max - min) (0 when max = min); none: x.
        A missing value (None) is replaced as [data] numeric_missing says (mean: the mean; zero: 0) first."""
        n, out = self.numeric, []
        for j, x in enumerate(values):
            if x is None:
                x = n["mean"][j] if self.numeric_missing == "mean" else 0.0
            sc = n.get("scaling", "standard")
            if sc == "standard":
                sd = n["std"][j] or 1.0
                out.append((x - n["mean"][j]) / sd)
            elif sc == "minmax":
                r = n["max"][j] - n["min"][j]
                out.append((x - n["min"][j]) / r if r > 0 else 0.0)
            else:
                out.append(x)
        return out

    def normalize_image(self, pixels):
        """(C, H, W) pixels in [0, 1] -> the image input: (x - mean[c]) / std[c]."""
        m = torch.tensor(self.image["mean"][:pixels.shape[0]]).view(-1, 1, 1)
        s = torch.tensor(self.image["std"][:pixels.shape[0]]).view(-1, 1, 1)
        return (pixels - m) / s


def _split(s):
    return [v.strip() for v in str(s).split(",") if v.strip()]


class _Dense(nn.Module):
    """<prefix>.dense0, dense1, ... registered on `owner` (Linear + activation; dropout is off in eval)."""

    def __init__(self, owner, d, units, act):
        super().__init__()
        self.layers = []
        for i, u in enumerate(units):
            lin = nn.Linear(d, u)
            setattr(owner, f"dense{i}", lin)
            self.layers.append(lin)
            d = u
        self.act, self.dim = ACT[act], d

    def __call__(self, x):
        for lin in self.layers:
            x = self.act(lin(x))
        return x


def _same_pad(x, k, s):
    """TF/Keras 'same': out = ceil(in / s), the odd padding at the bottom/right."""
    H, W = x.shape[2], x.shape[3]
    ph = max((-(-H // s) - 1) * s + k - H, 0)
    pw = max((-(-W // s) - 1) * s + k - W, 0)
    return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))


class _Text:
    """The text tower's layers under <prefix> (text or query) of owner, and its forward."""

    def __init__(self, owner, prefix, cfg, vocab):
        enc = cfg.s("text", "encoder", "lstm") or "lstm"
        if enc not in ("lstm", "gru"):
            raise NotImplementedError(f"loom.torch: text.encoder = {enc} is not supported yet (lstm, gru are)")
        mod = nn.Module()
        setattr(owner, prefix, mod)
        E, H, L = cfg.i("text", "embedding_dim"), cfg.i("text", "hidden"), cfg.i("text", "layers", 1)
        self.bi = cfg.b("text", "bidirectional")
        mod.embedding = nn.Embedding(vocab, E, padding_idx=0)
        rnn = nn.LSTM if enc == "lstm" else nn.GRU
        setattr(mod, enc, rnn(E, H, L, batch_first=True, bidirectional=self.bi))
        self.rnn, self.mod, self.enc = getattr(mod, enc), mod, enc
        self.pool = cfg.s("text", "pooling", "last")
        self.dense = _Dense(mod, H * (2 if self.bi else 1), cfg.ints("text", "dense"), cfg.s("text", "activation", "relu"))
        self.dim = self.dense.dim

    def __call__(self, tok, lengths):
        """tok (N, T) ids, lengths (N) -> (N, dim). A text of length 0 gives the zero vector before the dense
        layers, as in loom (no step is run)."""
        T = tok.shape[1]
        e = self.mod.embedding(tok.long())
        lengths = lengths.long()
        packed = nn.utils.rnn.pack_padded_sequence(e, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
        out, h = self.rnn(packed)
        h = h[0] if self.enc == "lstm" else h
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=T)
        if self.pool == "last":
            nd = 2 if self.bi else 1
            v = torch.cat([h[-nd + i] for i in range(nd)], dim=1)
        elif self.pool == "mean":
            v = out.sum(1) / lengths.clamp(min=1).unsqueeze(1).float()
        else:
            mask = torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1)
            v = out.masked_fill(~mask.unsqueeze(2), -1e30).max(1).values
        v = v * (lengths > 0).unsqueeze(1).float()
        return self.dense(v)


class _Image:
    """The image tower (image.conv<i>, image.bn<i>, image.dense<i> or image.lstm) of owner."""

    def __init__(self, owner, cfg, C, H, W):
        enc = cfg.s("image", "encoder", "conv") or "conv"
        self.mod = nn.Module()
        owner.image = self.mod
        act = cfg.s("image", "activation", "relu")
        self.act = ACT[act]
        if enc == "rows":
            Hd, self.bi = cfg.i("image", "lstm_hidden"), cfg.b("image", "lstm_bidirectional")
            self.mod.lstm = nn.LSTM(C * W, Hd, cfg.i("image", "lstm_layers", 1), batch_first=True, bidirectional=self.bi)
            self.pool = cfg.s("image", "lstm_pooling", "last")
            self.rows = True
            self.dense = _Dense(self.mod, Hd * (2 if self.bi else 1), cfg.ints("image", "dense"), act)
        elif enc == "conv":
            self.rows = False
            f, k, s, p = (cfg.ints("image", n) for n in ("filters", "kernel", "stride", "pool"))
            s, p = s or [1], p or [1]
            at = lambda v, i: v[0] if len(v) == 1 else v[i]  # noqa: E731
            self.same = cfg.s("image", "padding", "valid") == "same"
            self.avg = cfg.s("image", "pool_type", "max") == "avg"
            bn = cfg.b("image", "batchnorm")
            self.blocks = []
            for i, fi in enumerate(f):
                ki, si, pi = at(k, i), at(s, i), at(p, i)
                conv = nn.Conv2d(C, fi, ki, si)
                setattr(self.mod, f"conv{i}", conv)
                b = None
                if bn:
                    b = nn.BatchNorm2d(fi)
                    setattr(self.mod, f"bn{i}", b)
                self.blocks.append((conv, b, ki, si, pi))
                C = fi
                H = -(-H // si) if self.same else (H - ki) // si + 1
                W = -(-W // si) if self.same else (W - ki) // si + 1
                if pi > 1:
                    H, W = H // pi, W // pi
            self.dense = _Dense(self.mod, C * H * W, cfg.ints("image", "dense"), act)
        else:
            raise NotImplementedError(f"loom.torch: image.encoder = {enc} is not supported yet (conv, rows are)")
        self.dim = self.dense.dim

    def __call__(self, y):
        if self.rows:
            B, C, H, W = y.shape
            out, (h, _) = self.mod.lstm(y.permute(0, 2, 1, 3).reshape(B, H, C * W))
            if self.pool == "last":
                nd = 2 if self.bi else 1
                v = torch.cat([h[-nd + i] for i in range(nd)], dim=1)
            else:
                v = out.mean(1) if self.pool == "mean" else out.max(1).values
            return self.dense(v)
        for conv, bn, k, s, p in self.blocks:
            y = conv(_same_pad(y, k, s) if self.same else y)
            y = self.act(bn(y) if bn is not None else y)
            if p > 1:
                y = F.avg_pool2d(y, p) if self.avg else F.max_pool2d(y, p)
        return self.dense(y.flatten(1))


def _check_unsupported(cfg):
    if cfg.i("data", "history_len", 0) > 0:
        raise NotImplementedError("loom.torch: [data] history_len (user histories) is not supported yet")
    if cfg.s("data", "video_col") or cfg.s("data", "gallery"):
        raise NotImplementedError("loom.torch: video frames / galleries ([data] video_col, gallery) are not supported yet")


class PointwiseModel(nn.Module):
    """A binary or multiclass loom model: towers (text, image, query, interaction) -> fusion -> dense -> head."""

    def __init__(self, cfg, sizes, prep):
        super().__init__()
        _check_unsupported(cfg)
        self.cfg, self.towers, dims = cfg, [], []
        has_q = bool(cfg.s("data", "query_col"))
        self.share = has_q and cfg.b("text", "share_query")
        vocab = len(prep.words) + 2
        if cfg.b("text", "enabled") and "text.embedding.weight" in sizes:
            self.text_t = _Text(self, "text", cfg, sizes["text.embedding.weight"][0])
            self.towers.append("text")
            dims.append(self.text_t.dim)
        if cfg.b("image", "enabled") and any(k.startswith("image.") for k in sizes):
            C, H, W = prep.image["C"], prep.image["H"], prep.image["W"]
            self.image_t = _Image(self, cfg, C, H, W)
            self.towers.append("image")
            dims.append(self.image_t.dim)
        if has_q:
            if self.share:
                dims.append(self.text_t.dim)
            else:
                self.query_t = _Text(self, "query", cfg, sizes.get("query.embedding.weight", (vocab,))[0])
                dims.append(self.query_t.dim)
            self.towers.append("query")
        if cfg.b("interaction", "enabled"):
            self.interaction = nn.Module()
            d = 0
            self.inter_dense = None
            if "interaction.dense0.weight" in sizes or prep.numeric_cols:
                self.inter_dense = _Dense(self.interaction, len(prep.numeric_cols), cfg.ints("interaction", "dense"),
                                          cfg.s("interaction", "activation", "relu"))
                d += self.inter_dense.dim
            self.embs = []
            for name in ("user", "item", "category"):
                key = f"interaction.{name}_embedding.weight"
                if key in sizes:
                    V, Dm = sizes[key]
                    setattr(self.interaction, f"{name}_embedding", nn.Embedding(V, Dm))
                    self.embs.append(name)
                    d += Dm * (len(prep.categories) if name == "category" else 1)
            self.towers.append("interaction")
            dims.append(d)
        fu = self.mode = cfg.s("fusion", "mode", "concat") or "concat"
        n = len(self.towers)
        self.fusion = nn.Module()
        if fu in ("fm", "attention"):
            raise NotImplementedError(f"loom.torch: fusion.mode = {fu} is not supported yet")
        if fu == "dcn":
            d = sum(dims)
            self.cross = []
            for lyr in range(cfg.i("fusion", "cross_layers")):
                lin = nn.Linear(d, d)
                setattr(self.fusion, f"cross{lyr}", lin)
                self.cross.append(lin)
        elif n == 1 or fu == "concat":
            d = sum(dims)
        else:
            D = cfg.i("fusion", "dim")
            for name, di in zip(self.towers, dims):
                setattr(self.fusion, f"proj_{name}", nn.Linear(di, D))
            if fu == "weighted":
                self.fusion.weight = nn.Parameter(torch.full((n,), 1.0 / n))
            if fu == "gated":
                self.fusion.gate = nn.Linear(n * D, n * D)
            d = D
        self.fusion_dense = _Dense(self.fusion, d, cfg.ints("fusion", "dense"), cfg.s("fusion", "activation", "relu"))
        self.head = nn.Linear(self.fusion_dense.dim, sizes["head.weight"][0])

    def forward(self, x):
        outs = []
        if "text" in self.towers:
            tok, ln = x["tokens"], x["tokens_len"]
            if self.share:  # item text and query through the same layers: (B, 2·T) and (B, 2)
                B = tok.shape[0]
                both = self.text_t(tok.reshape(B * 2, -1), ln.reshape(B * 2))
                both = both.reshape(B, -1)
                D = both.shape[1] // 2
                outs.append(both[:, :D])
                q = both[:, D:]
            else:
                outs.append(self.text_t(tok, ln.reshape(-1)))
        if "image" in self.towers:
            outs.append(self.image_t(x["image"]))
        if "query" in self.towers:
            outs.append(q if self.share else self.query_t(x["query"], x["query_len"].reshape(-1)))
        if "interaction" in self.towers:
            parts = []
            if self.inter_dense is not None:
                parts.append(self.inter_dense(x["numeric"]))
            for name in self.embs:
                emb = getattr(self.interaction, f"{name}_embedding")
                parts.append(emb(x[name].long().reshape(x[name].shape[0], -1)).flatten(1))
            outs.append(torch.cat(parts, 1))
        n = len(outs)
        if self.mode == "dcn":
            x0 = torch.cat(outs, 1)
            y = x0
            for lin in self.cross:
                y = x0 * lin(y) + y
        elif n == 1 or self.mode == "concat":
            y = torch.cat(outs, 1)
        else:
            p = [getattr(self.fusion, f"proj_{t}")(o) for t, o in zip(self.towers, outs)]
            if self.mode in ("sum", "mean"):
                y = sum(p) / (len(p) if self.mode == "mean" else 1)
            elif self.mode == "product":
                y = p[0]
                for r in p[1:]:
                    y = y * r
            elif self.mode == "weighted":
                y = sum(self.fusion.weight[i] * r for i, r in enumerate(p))
            else:
                g = torch.sigmoid(self.fusion.gate(torch.cat(p, 1)))
                D = p[0].shape[1]
                y = sum(g[:, i * D:(i + 1) * D] * r for i, r in enumerate(p))
        z = self.head(self.fusion_dense(y))
        return z.reshape(-1) if z.shape[1] == 1 else z


def _fill_unknown(state, prep):
    """As loom does on opening a checkpoint: row 0 of the user / item tables and each category column's
    first row (its unknown value) become the mean of that table's / column's known rows."""
    for k in ("interaction.user_embedding.weight", "interaction.item_embedding.weight"):
        if k in state and state[k].shape[0] > 1:
            state[k][0] = state[k][1:].double().mean(0).float()
    k = "interaction.category_embedding.weight"
    if k in state:
        t, offs = state[k], prep.category_offsets + [state[k].shape[0]]
        for j in range(len(prep.category_offsets)):
            lo, hi = offs[j], offs[j + 1]
            if hi - lo >= 2:
                t[lo] = t[lo + 1:hi].double().mean(0).float()


def load(path, eval=True):  # noqa: A002
    """Rebuilds checkpoint `path` (best.safetensors or last.safetensors of a loom-train run) as a
    torch.nn.Module with its weights (strict), in eval mode; returns (model, Preprocessing)."""
    meta, weights = _st.read(path)
    if meta.get("loom.format") is None or "loom.config" not in meta:
        raise ValueError(f"{path}: not a loom-train checkpoint (no metadata loom.format / loom.config)")
    cfg = _Cfg(meta["loom.config"])
    prep = Preprocessing(meta.get("loom.prep", "{}"), cfg)
    state = {k: torch.from_numpy(v.copy()) for k, v in weights.items() if not k.startswith("_train.")}
    for k in state:
        if k.endswith("num_batches_tracked"):
            state[k] = state[k].long().reshape(())
    sizes = {k: tuple(v.shape) for k, v in state.items()}
    task = cfg.s("task", "kind", "binary")
    if task in ("ranking", "retrieval"):
        from ._ranking import RankingModel
        model = RankingModel(cfg, sizes, prep)
    elif task in ("binary", "multiclass"):
        model = PointwiseModel(cfg, sizes, prep)
    else:
        raise NotImplementedError(f"loom.torch: task.kind = {task}")
    _fill_unknown(state, prep)
    model.load_state_dict(state, strict=True)
    model.prep = prep
    return (model.eval() if eval else model), prep


def __getattr__(name):
    if name == "RankingModel":
        from ._ranking import RankingModel
        return RankingModel
    raise AttributeError(name)
