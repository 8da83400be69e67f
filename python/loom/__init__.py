"""loom — Python access to libloom.so through ctypes (standard library only; numpy arrays when numpy is
installed). docs/python.md has the guide.

    import loom
    ck = loom.open("runs/fashion-shop-ranking/best.safetensors")
    for hit in ck.rank("u00042", "black ankle boot", k=5):
        print(hit.item, hit.score, hit.title)
    run = loom.train("configs/spam.ini", sets={"train.epochs": 1}, callback=print)
    print(run.metrics()[-1])

libloom.so is found through $LOOM_LIBRARY (a path), else beside this package as installed
(<prefix>/lib/loom/python/loom -> <prefix>/lib/libloom.so.0), else by the system's library search.
loom.torch (imported on its own: `import loom.torch`) rebuilds a checkpoint as a torch.nn.Module.
"""
import builtins
import csv
import ctypes
import ctypes.util
import json
import os

try:
    import numpy as _np
except ImportError:  # numpy is optional: lists then
    _np = None

from . import safetensors  # noqa: F401  (a reader of the files loom writes)

__all__ = ["Error", "Checkpoint", "Hit", "Row", "Run", "Progress", "open", "train", "read_metrics",
           "read_result", "library", "version"]

_ERROR_MAX = 1024
_NAME = 24


class Error(Exception):
    """A loom error: the message names the file, line or key at fault and what to do."""


class _Err(ctypes.Structure):
    _fields_ = [("msg", ctypes.c_char * _ERROR_MAX)]


class _Opts(ctypes.Structure):
    _fields_ = [("items", ctypes.c_char_p), ("users", ctypes.c_char_p), ("image_root", ctypes.c_char_p),
                ("batch_size", ctypes.c_int), ("item_cache", ctypes.c_bool),
                ("index", ctypes.c_void_p), ("metric", ctypes.c_char_p)]  # NULL: auto index, the model's metric


class _Hit(ctypes.Structure):
    _fields_ = [("row", ctypes.c_int64), ("item", ctypes.c_char_p), ("score", ctypes.c_float),
                ("unknown_item", ctypes.c_bool), ("title", ctypes.c_char_p)]


class _Row(ctypes.Structure):
    _fields_ = [("line", ctypes.c_int64), ("user", ctypes.c_char_p), ("item", ctypes.c_char_p),
                ("score", ctypes.c_float), ("logit", ctypes.c_float), ("cls", ctypes.c_int),
                ("probs", ctypes.POINTER(ctypes.c_float)), ("unknown_user", ctypes.c_bool),
                ("unknown_item", ctypes.c_bool)]


class _Progress(ctypes.Structure):
    _fields_ = [("event", ctypes.c_char_p), ("step", ctypes.c_long), ("epoch", ctypes.c_long),
                ("loss", ctypes.c_double), ("lr", ctypes.c_double), ("seconds", ctypes.c_double),
                ("n", ctypes.c_int), ("names", ctypes.POINTER(ctypes.c_char_p)),
                ("values", ctypes.POINTER(ctypes.c_double))]


_ROW_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(_Row))
_PROGRESS_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(_Progress))

_TASKS = {0: "binary", 1: "multiclass", 2: "ranking", 3: "retrieval"}
UNKNOWN_USER, USER_IGNORED, QUERY_UNKNOWN = 1, 2, 4  # flags of Checkpoint.rank (loom/infer.h)


def _find_library():
    env = os.environ.get("LOOM_LIBRARY")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    for rel in ("../../../libloom.so.0", "../../../libloom.so", "../../build/lib/libloom.so.0"):
        p = os.path.normpath(os.path.join(here, rel))
        if os.path.exists(p):
            return p
    found = ctypes.util.find_library("loom")
    if found:
        return found
    raise Error("libloom.so not found: set LOOM_LIBRARY to its path (build/lib/libloom.so.0 in a build "
                "tree, <prefix>/lib/libloom.so.0 after cmake --install)")


_lib = None


def library():
    """The loaded libloom (ctypes.CDLL), with the signatures this module uses declared."""
    global _lib
    if _lib is not None:
        return _lib
    lib = ctypes.CDLL(_find_library())
    P, I, V, E = ctypes.c_void_p, ctypes.c_int, None, ctypes.POINTER(_Err)
    S = ctypes.c_char_p
    sig = {
        "loom_version": (S, []),
        "loom_capi_sizeof": (ctypes.c_size_t, [S]),
        "loom_capi_train": (I, [S, ctypes.POINTER(S), I, S, _PROGRESS_FN, P, ctypes.c_char_p, ctypes.c_size_t, E]),
        "loom_capi_n_classes": (I, [P]),
        "loom_capi_eval": (I, [P, S, I, ctypes.c_char_p, ctypes.POINTER(ctypes.c_double), I, E]),
        "loom_infer_open": (P, [S, ctypes.POINTER(_Opts), E]),
        "loom_infer_close": (V, [P]),
        "loom_infer_task": (I, [P]),
        "loom_infer_class_name": (S, [P, I]),
        "loom_infer_score_csv": (I, [P, S, _ROW_FN, P, E]),
        "loom_infer_rank": (I, [P, S, S, I, ctypes.POINTER(_Hit), ctypes.POINTER(ctypes.c_uint), E]),
        "loom_infer_search_text": (I, [P, S, I, ctypes.POINTER(_Hit), E]),
        "loom_infer_search_image": (I, [P, S, I, ctypes.POINTER(_Hit), E]),
        "loom_infer_embed": (I, [P, S, S, E]),
        "loom_infer_n_notes": (I, [P]),
        "loom_infer_note": (S, [P, I]),
        "loom_infer_catalog_size": (ctypes.c_int64, [P, E]),
        "loom_infer_item_key": (S, [P, ctypes.c_int64, E]),
        "loom_infer_dim": (I, [P]),
        "loom_infer_item_vectors": (ctypes.POINTER(ctypes.c_float), [P, E]),
        "loom_infer_user_vector": (I, [P, S, S, ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_uint), E]),
        "loom_infer_export_onnx": (I, [P, S, S, P, E]),
    }
    for name, (res, args) in sig.items():
        f = getattr(lib, name)
        f.restype, f.argtypes = res, args
    for name, cls in (("loom_error", _Err), ("loom_hit", _Hit), ("loom_infer_row", _Row),
                      ("loom_infer_opts", _Opts), ("loom_train_progress", _Progress)):
        n = lib.loom_capi_sizeof(name.encode())
        if n != ctypes.sizeof(cls):
            raise Error(f"{name}: libloom says {n} bytes, python/loom mirrors {ctypes.sizeof(cls)}: this python/loom "
                        f"is not the one of this libloom ({lib._name})")
    _lib = lib
    return lib


def version():
    return library().loom_version().decode()


def _b(s):
    return None if s is None else os.fsencode(s) if isinstance(s, os.PathLike) else str(s).encode()


def _s(b):
    return None if b is None else b.decode("utf-8", "replace")


def _raise(err, what):
    raise Error(err.msg.decode("utf-8", "replace") or what)


def _floats(ptr, n):
    if _np is not None:
        return _np.ctypeslib.as_array(ptr, shape=(n,)).copy()
    return [ptr[i] for i in range(n)]


class Hit:
    """One ranked or found catalogue item: row (in the items table), item key, score, unknown_item, title."""
    __slots__ = ("row", "item", "score", "unknown_item", "title")

    def __init__(self, h):
        self.row, self.item, self.score = h.row, _s(h.item), h.score
        self.unknown_item, self.title = bool(h.unknown_item), _s(h.title)

    def __repr__(self):
        return f"Hit(item={self.item!r}, score={self.score:.6g}, row={self.row}, title={self.title!r})"


class Row:
    """One scored row: line, user, item, score, logit, cls, probs (multiclass), unknown_user, unknown_item."""
    __slots__ = ("line", "user", "item", "score", "logit", "cls", "probs", "unknown_user", "unknown_item")

    def __init__(self, r, n_classes):
        self.line, self.user, self.item = r.line, _s(r.user), _s(r.item)
        self.score, self.logit, self.cls = r.score, r.logit, r.cls
        self.probs = _floats(r.probs, n_classes) if r.probs else None
        self.unknown_user, self.unknown_item = bool(r.unknown_user), bool(r.unknown_item)

    def __repr__(self):
        return f"Row(line={self.line}, user={self.user!r}, item={self.item!r}, score={self.score:.6g})"


class Checkpoint:
    """An inference session over a loom-train checkpoint (loom/infer.h): score, rank, search, embed, eval.
    Use as a context manager or call close(); item vectors are computed once per session."""

    def __init__(self, path, items=None, users=None, image_root=None, batch_size=0, item_cache=False):
        lib = library()
        self.path = os.fspath(path)
        opts = _Opts(_b(items), _b(users), _b(image_root), int(batch_size), bool(item_cache))
        err = _Err()
        self._s = lib.loom_infer_open(_b(self.path), ctypes.byref(opts), ctypes.byref(err))
        if not self._s:
            _raise(err, f"cannot open {self.path}")
        self._lib = lib
        self.task = _TASKS[lib.loom_infer_task(self._s)]
        self.n_classes = lib.loom_capi_n_classes(self._s)
        self.dim = lib.loom_infer_dim(self._s)

    def close(self):
        if getattr(self, "_s", None):
            self._lib.loom_infer_close(self._s)
            self._s = None

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def __del__(self):
        self.close()

    def _live(self):
        if not self._s:
            raise Error(f"{self.path}: the session is closed")
        return self._s

    def class_names(self):
        """Multiclass with label_type=class: the class names, in class order; else []."""
        out = []
        for k in range(self.n_classes if self.task == "multiclass" else 0):
            n = self._lib.loom_infer_class_name(self._live(), k)
            if n is None:
                return []
            out.append(_s(n))
        return out

    def notes(self):
        return [_s(self._lib.loom_infer_note(self._s, i)) for i in range(self._lib.loom_infer_n_notes(self._live()))]

    def score(self, csv_path, callback=None):
        """Scores every row of csv_path (the training interactions' columns). Without callback: the list of
        Row; with callback(row): called per row in file order, a true return stops (and is returned)."""
        rows, K, err = [], self.n_classes, _Err()
        box = []

        def fn(_ctx, rp):
            try:
                r = Row(rp.contents, K if rp.contents.probs else 0)
                if callback is None:
                    rows.append(r)
                    return 0
                return 1 if callback(r) else 0
            except BaseException as e:  # never unwind through C
                box.append(e)
                return -2
        cb = _ROW_FN(fn)
        rc = self._lib.loom_infer_score_csv(self._live(), _b(csv_path), cb, None, ctypes.byref(err))
        if box:
            raise box[0]
        if rc < 0 and rc != -2:
            _raise(err, f"scoring {csv_path}")
        return rows if callback is None else rc

    def scores(self, csv_path):
        """The scores of every row of csv_path as one array (numpy float32 when numpy is present)."""
        s = [r.score for r in self.score(csv_path)]
        return _np.asarray(s, dtype=_np.float32) if _np is not None else s

    def _hits(self, fn, k, *args):
        hits = (_Hit * max(int(k), 1))()
        err = _Err()
        n = fn(self._live(), *args, int(k), hits, ctypes.byref(err))
        if n < 0:
            _raise(err, "no hits")
        return [Hit(hits[i]) for i in range(n)]

    def rank(self, user=None, query=None, k=10, with_flags=False):
        """The k best catalogue items for user (None: nobody) and query (None: none); with_flags also
        returns the UNKNOWN_USER / USER_IGNORED / QUERY_UNKNOWN bits."""
        hits = (_Hit * max(int(k), 1))()
        err, flags = _Err(), ctypes.c_uint(0)
        n = self._lib.loom_infer_rank(self._live(), _b(user), _b(query), int(k), hits, ctypes.byref(flags),
                                      ctypes.byref(err))
        if n < 0:
            _raise(err, "rank")
        out = [Hit(hits[i]) for i in range(n)]
        return (out, flags.value) if with_flags else out

    def search(self, text=None, image=None, k=10):
        """Two-tower models: the k items closest to the query tower's vector of text, or to the photo image."""
        if (text is None) == (image is None):
            raise Error("search: give text or image, one of them")
        if text is not None:
            return self._hits(self._lib.loom_infer_search_text, k, _b(text))
        return self._hits(self._lib.loom_infer_search_image, k, _b(image))

    def embed(self, which="items", out_path=None):
        """Two-tower models: the item ("items") or user ("users") vectors. Writes them to out_path (a
        safetensors file, as loom-infer embed) when given; returns (ids, vectors (N, D))."""
        import tempfile
        err = _Err()
        tmp = None
        if out_path is None:
            fd, tmp = tempfile.mkstemp(suffix=".safetensors")
            os.close(fd)
            os.unlink(tmp)
            out_path = tmp
        try:
            if self._lib.loom_infer_embed(self._live(), _b(which), _b(out_path), ctypes.byref(err)) < 0:
                _raise(err, "embed")
            meta, tensors = safetensors.read(out_path)
            ids = json.loads(meta["ids"])
            return ids, tensors["item_vectors" if which == "items" else "user_vectors"]
        finally:
            if tmp and os.path.exists(tmp):
                os.unlink(tmp)

    def catalog_size(self):
        err = _Err()
        n = self._lib.loom_infer_catalog_size(self._live(), ctypes.byref(err))
        if n < 0:
            _raise(err, "catalogue")
        return n

    def item_key(self, row):
        err = _Err()
        k = self._lib.loom_infer_item_key(self._live(), int(row), ctypes.byref(err))
        if k is None:
            _raise(err, "item key")
        return _s(k)

    def item_vectors(self):
        """Two-tower models: the catalogue's (N, D) item vectors (a copy: numpy array, or list of lists)."""
        err = _Err()
        p = self._lib.loom_infer_item_vectors(self._live(), ctypes.byref(err))
        if not p:
            _raise(err, "item vectors")
        n, d = self.catalog_size(), self.dim
        flat = _floats(p, n * d)
        return flat.reshape(n, d) if _np is not None else [flat[i * d:(i + 1) * d] for i in range(n)]

    def user_vector(self, user=None, query=None):
        """Two-tower models: the user-side vector (D) of user and query."""
        out = (ctypes.c_float * max(self.dim, 1))()
        err, flags = _Err(), ctypes.c_uint(0)
        if self._lib.loom_infer_user_vector(self._live(), _b(user), _b(query), out, ctypes.byref(flags),
                                            ctypes.byref(err)) < 0:
            _raise(err, "user vector")
        return _floats(out, self.dim)

    def export_onnx(self, out_path, outputs=None):
        """Writes the inference graph as an ONNX file (docs/onnx.md; `loom-export onnx`): outputs None for all
        of the task's, or a list of names ("logits", "score", "probs", "user_vec", "item_vec")."""
        err = _Err()
        only = ",".join(outputs) if outputs else None
        if self._lib.loom_infer_export_onnx(self._live(), _b(out_path), _b(only), None, ctypes.byref(err)) < 0:
            _raise(err, "export_onnx")

    def eval(self, csv_path=None, split="val"):
        """The training metrics (val_loss first) on csv_path, or on split "val" / "test" of the
        checkpoint's own data: a dict name -> value."""
        mx = 64
        names = ctypes.create_string_buffer(_NAME * mx)
        vals = (ctypes.c_double * mx)()
        err = _Err()
        sp = {"val": 1, "test": 2}.get(split)
        if csv_path is None and sp is None:
            raise Error(f"eval: split {split!r}: give 'val' or 'test', or a CSV file")
        n = self._lib.loom_capi_eval(self._live(), _b(csv_path), sp or 0, names, vals, mx, ctypes.byref(err))
        if n < 0:
            _raise(err, "eval")
        raw = names.raw
        return {raw[i * _NAME:(i + 1) * _NAME].split(b"\0", 1)[0].decode(): vals[i] for i in range(n)}


def open(path, **kw):  # noqa: A001  (loom.open, like the C loom_infer_open)
    """Opens a checkpoint for inference: see Checkpoint."""
    return Checkpoint(path, **kw)


class Progress:
    """What a training callback is told: event ("step", "eval", "done"), step, epoch, loss, lr, seconds,
    metrics (for "eval": a dict name -> value, val_loss first)."""
    __slots__ = ("event", "step", "epoch", "loss", "lr", "seconds", "metrics")

    def __init__(self, p):
        self.event, self.step, self.epoch = _s(p.event), p.step, p.epoch
        self.loss, self.lr, self.seconds = p.loss, p.lr, p.seconds
        self.metrics = {_s(p.names[i]): p.values[i] for i in range(p.n)}

    def __repr__(self):
        m = " ".join(f"{k}={v:.4g}" for k, v in self.metrics.items())
        return f"Progress({self.event} step {self.step} epoch {self.epoch} loss {self.loss:.4g} {m})".rstrip()


def _num(v):
    try:
        return float(v)
    except ValueError:
        return v


def read_metrics(run_dir):
    """metrics.csv of a run directory: a list of dicts (one per validation), numbers as floats."""
    with builtins.open(os.path.join(run_dir, "metrics.csv"), newline="") as f:
        return [{k: _num(v) for k, v in row.items()} for row in csv.DictReader(f)]


def read_result(run_dir):
    """result.json of a run directory (status, best and last metrics, config hash, times)."""
    with builtins.open(os.path.join(run_dir, "result.json")) as f:
        return json.load(f)


class Run:
    """A finished (or stopped) training run: run_dir, stopped (by the callback), metrics(), result(),
    best / last checkpoint paths."""

    def __init__(self, run_dir, stopped):
        self.run_dir, self.stopped = run_dir, stopped
        self.best = os.path.join(run_dir, "best.safetensors")
        self.last = os.path.join(run_dir, "last.safetensors")

    def metrics(self):
        return read_metrics(self.run_dir)

    def result(self):
        return read_result(self.run_dir)

    def __repr__(self):
        return f"Run({self.run_dir!r}{', stopped' if self.stopped else ''})"


def train(config=None, sets=None, resume=None, callback=None):
    """Trains (loom_train) from the INI file config with overrides sets (a dict {"section.key": value}
    or a list of "section.key=value"), or resumes the run directory resume. callback(Progress) is called
    every train.log_every steps, after every validation and at the end; a true return stops the run
    (checkpointed, resumable). Paths in the config are relative to the current directory. Returns a Run."""
    lib = library()
    if isinstance(sets, dict):
        sets = [f"{k}={v}" for k, v in sets.items()]
    sets = list(sets or [])
    arr = (ctypes.c_char_p * max(len(sets), 1))(*[_b(s) for s in sets])
    box = []

    def fn(_ctx, pp):
        try:
            return 1 if callback(Progress(pp.contents)) else 0
        except BaseException as e:  # never unwind through C: stop the run, re-raise after
            box.append(e)
            return 1
    cb = _PROGRESS_FN(fn) if callback else _PROGRESS_FN()
    run_dir = ctypes.create_string_buffer(4096)
    err = _Err()
    rc = lib.loom_capi_train(_b(config), arr, len(sets), _b(resume), cb, None, run_dir, len(run_dir),
                             ctypes.byref(err))
    if box:
        raise box[0]
    if rc < 0:
        _raise(err, "training failed")
    return Run(_s(run_dir.value), rc == 1)




def export_batch(ckpt, out_path, split="val"):
    """One batch of the checkpoint's own data, as loom's graph sees it (inputs under their graph names,
    logits / user_vec / item_vec), into the safetensors file out_path; returns (metadata, tensors)."""
    lib = library()
    if not hasattr(lib.loom_capi_export_batch, "_declared"):
        lib.loom_capi_export_batch.restype = ctypes.c_int
        lib.loom_capi_export_batch.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(_Err)]
        lib.loom_capi_export_batch._declared = True
    sp = {"train": 0, "val": 1, "test": 2}[split]
    err = _Err()
    if lib.loom_capi_export_batch(_b(ckpt), sp, _b(out_path), ctypes.byref(err)) < 0:
        _raise(err, "export_batch")
    return safetensors.read(out_path)
