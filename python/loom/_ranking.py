"""loom.torch's two-tower model (task.kind = ranking | retrieval); see loom/torch.py."""
import torch
import torch.nn as nn

from .torch import _Image, _Text, _check_unsupported


class RankingModel(nn.Module):
    """Item side: [interaction.item_embedding (ranking), text tower over the item text, image tower] ->
    item_proj; user side: [interaction.user_embedding (ranking), the query's own tower query.*] -> user_proj.
    forward(x) returns (user_vec (B, D), item_vec (B·G, D)); scores(x) the ranking logits (B, G) = v·u
    (retrieval: loom's logits are item_vec itself, ranked by cosine)."""

    def __init__(self, cfg, sizes, prep):
        super().__init__()
        _check_unsupported(cfg)
        self.retrieval = cfg.s("task", "kind") == "retrieval"
        d = 0
        self.has_item = "interaction.item_embedding.weight" in sizes
        self.has_user = "interaction.user_embedding.weight" in sizes
        if self.has_item or self.has_user:
            self.interaction = nn.Module()
        if self.has_item:
            self.interaction.item_embedding = nn.Embedding(*sizes["interaction.item_embedding.weight"])
            d += sizes["interaction.item_embedding.weight"][1]
        self.text_t = self.image_t = self.query_t = None
        if "text.embedding.weight" in sizes:
            self.text_t = _Text(self, "text", cfg, sizes["text.embedding.weight"][0])
            d += self.text_t.dim
        if any(k.startswith("image.") for k in sizes):
            self.C = prep.image["C"]
            self.image_t = _Image(self, cfg, prep.image["C"], prep.image["H"], prep.image["W"])
            d += self.image_t.dim
        self.item_proj = nn.Linear(d, sizes["item_proj.weight"][0])
        d = 0
        if self.has_user:
            self.interaction.user_embedding = nn.Embedding(*sizes["interaction.user_embedding.weight"])
            d += sizes["interaction.user_embedding.weight"][1]
        if "query.embedding.weight" in sizes:
            self.query_t = _Text(self, "query", cfg, sizes["query.embedding.weight"][0])
            d += self.query_t.dim
        self.user_proj = nn.Linear(d, sizes["user_proj.weight"][0])

    def item_vector(self, x):
        parts = []
        if self.has_item:
            parts.append(self.interaction.item_embedding(x["item"].long().reshape(-1)))
        if self.text_t is not None:
            ln = x["tokens_len"]
            G = ln.shape[1] if ln.dim() == 2 else 1
            B = ln.shape[0]
            parts.append(self.text_t(x["tokens"].reshape(B * G, -1), ln.reshape(-1)))
        if self.image_t is not None:
            im = x["image"]
            parts.append(self.image_t(im.reshape(-1, self.C, im.shape[2], im.shape[3])))
        return self.item_proj(torch.cat(parts, 1))

    def user_vector(self, x):
        parts = []
        if self.has_user:
            parts.append(self.interaction.user_embedding(x["user"].long().reshape(-1)))
        if self.query_t is not None:
            parts.append(self.query_t(x["query"], x["query_len"].reshape(-1)))
        return self.user_proj(torch.cat(parts, 1))

    def forward(self, x):
        return self.user_vector(x), self.item_vector(x)

    def scores(self, x):
        u, v = self(x)
        if self.retrieval:
            return v
        B = u.shape[0]
        return torch.bmm(v.reshape(B, -1, u.shape[1]), u.unsqueeze(2)).reshape(B, -1)
