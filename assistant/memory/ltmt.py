"""LTM-T: h_t = LTM-T(h_{t-1}, x_t), a recurrent memory-fusion model. Torch only, no I/O.

Per turn t, with the encoder's embedding x_t and the conversation's state H_{t-1} (S slots):
  query  q_t = norm(x_t + W_q [x_t; c_t])      c_t = attention of x_t over H_{t-1} (context)
  read   α_t = softmax over the K candidates M_t of multi-head scores between u_t = x_t + c_t
         and keys m_i + φ(f_i) (f_i: retrieval features), plus a feature score and q_t·m_i.
         α_t ranks the candidates and is shown as provenance; r_t = Σ α_i m_i.
  write  H_t = (1 - z) ⊙ H_{t-1} + z ⊙ tanh(W_h [H_{t-1}; x_t; r_t]),  z = σ(W_z [...])
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from assistant.memory.features import FEATURES  # in its own module: recall needs no torch


@dataclass
class LTMTConfig:
    dim: int = 384  # the encoder's embedding size (all-MiniLM-L6-v2)
    slots: int = 4  # S: a few slots keep several threads of a conversation apart
    heads: int = 4  # multi-head read; 96-d heads keep MiniLM's geometry per head
    n_features: int = len(FEATURES)
    hidden: int = 64  # feature MLP width: the features are few and dense
    dropout: float = 0.1  # only five dev conversations to learn from: regularise

    def to_dict(self) -> dict:
        return asdict(self)


class LTMT(nn.Module):
    """Query, read (rank) and write steps of the recurrent memory-fusion model."""

    def __init__(self, cfg: LTMTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.query_adapter: dict | None = None  # the encoder LoRA its queries were made with
        d, h = cfg.dim, cfg.heads
        assert d % h == 0, f"dim {d} must divide into {h} heads"
        self.init_state = nn.Parameter(torch.randn(cfg.slots, d) * 0.02)
        self.ctx_gate = nn.Parameter(torch.tensor(-2.0))  # state's weight in u_t starts small
        self.query_mix = nn.Linear(2 * d, d)
        self.w_q = nn.Linear(d, d, bias=False)
        self.w_k = nn.Linear(d, d, bias=False)
        self.feat_key = nn.Linear(cfg.n_features, d)
        self.feat_score = nn.Sequential(nn.Linear(cfg.n_features, cfg.hidden), nn.GELU(),
                                        nn.Dropout(cfg.dropout), nn.Linear(cfg.hidden, 1))
        self.head_mix = nn.Parameter(torch.full((h,), 1.0))
        self.query_weight = nn.Parameter(torch.tensor(1.0))
        self.temperature = nn.Parameter(torch.tensor(math.log(20.0)))  # cosine -> logits
        self.write_gate = nn.Linear(3 * d, d)
        self.write_cand = nn.Linear(3 * d, d)
        self.drop = nn.Dropout(cfg.dropout)
        self._reset()

    def _reset(self) -> None:
        # Untrained, LTM-T is plain cosine ranking with the raw query: training only adds.
        for lin in (self.w_q, self.w_k):
            nn.init.eye_(lin.weight)
        for lin in (self.query_mix, self.feat_key):
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)
        nn.init.constant_(self.write_gate.bias, -1.0)  # slots change slowly at first

    def initial_state(self, batch: int = 1) -> torch.Tensor:
        return self.init_state.unsqueeze(0).expand(batch, -1, -1).clone()  # (B, S, d)

    def context(self, x: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """c_t: what the state holds that is relevant to x_t."""
        att = torch.softmax(torch.einsum("bd,bsd->bs", x, state) / math.sqrt(self.cfg.dim), -1)
        return torch.sigmoid(self.ctx_gate) * torch.einsum("bs,bsd->bd", att, state)  # (B, d)

    def query(self, x: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """The search vector for turn t, from x_t and H_{t-1}; unit length."""
        assert x.dim() == 2 and state.dim() == 3, f"x {tuple(x.shape)}, state {tuple(state.shape)}"
        c = self.context(x, state)
        return F.normalize(x + self.query_mix(torch.cat([x, c], -1)), dim=-1)  # (B, d)

    def read(self, x: torch.Tensor, state: torch.Tensor, memories: torch.Tensor,
             features: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Ranking logits over the candidates (masked to -inf) and the read vector r_t."""
        B, K, d = memories.shape
        assert features.shape == (B, K, self.cfg.n_features), f"features {tuple(features.shape)}"
        assert mask.shape == (B, K), f"mask {tuple(mask.shape)}"
        h = self.cfg.heads
        c = self.context(x, state)
        u = x + c  # (B, d)
        q = F.normalize(x + self.query_mix(torch.cat([x, c], -1)), dim=-1)  # (B, d)
        keys = self.w_k(memories + self.feat_key(features))  # (B, K, d)
        qh = F.normalize(self.w_q(u).view(B, h, d // h), dim=-1)  # (B, h, d/h)
        kh = F.normalize(keys.view(B, K, h, d // h), dim=-1)  # (B, K, h, d/h)
        per_head = torch.einsum("bhe,bkhe->bkh", qh, kh)  # (B, K, h) cosines
        heads = (per_head * torch.softmax(self.head_mix, 0)).sum(-1)  # (B, K)
        direct = torch.einsum("bd,bkd->bk", q, memories)  # (B, K)
        logits = self.temperature.exp() * (heads + self.query_weight * direct) / 2
        logits = logits + self.feat_score(features).squeeze(-1)  # (B, K)
        logits = logits.masked_fill(~mask, float("-inf"))
        alpha = torch.softmax(logits, -1).nan_to_num(0.0)  # (B, K); all-masked rows -> 0
        read = torch.einsum("bk,bkd->bd", alpha, memories)  # (B, d)
        return logits, read

    def write(self, state: torch.Tensor, x: torch.Tensor, read: torch.Tensor) -> torch.Tensor:
        """H_t from H_{t-1}, x_t and the read vector: a gated, GRU-like slot update."""
        S = state.shape[1]
        inp = torch.cat([state, x.unsqueeze(1).expand(-1, S, -1),
                         read.unsqueeze(1).expand(-1, S, -1)], -1)  # (B, S, 3d)
        z = torch.sigmoid(self.write_gate(self.drop(inp)))  # (B, S, d)
        cand = torch.tanh(self.write_cand(self.drop(inp)))  # (B, S, d)
        return (1 - z) * state + z * cand  # (B, S, d)

    def forward(self, x: torch.Tensor, state: torch.Tensor, memories: torch.Tensor,
                features: torch.Tensor, mask: torch.Tensor,
                targets: torch.Tensor | None = None
                ) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor | None]:
        """One turn: ((ranking logits (B, K), new state (B, S, d)), listwise loss or None).

        `targets` (B, K) marks evidence memories; the loss is -log of the probability mass
        the ranking puts on them, over rows that have at least one.
        """
        logits, read = self.read(x, state, memories, features, mask)
        new_state = self.write(state, x, read)
        loss = None
        if targets is not None:
            loss = listwise_loss(logits, targets)
        return (logits, new_state), loss


def listwise_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """-log Σ_{i ∈ evidence} softmax(logits)_i, averaged over rows with evidence."""
    has = targets.any(-1)
    if not has.any():
        return logits.sum() * 0.0
    log_p = torch.log_softmax(logits[has], -1)  # (B', K)
    pos = log_p.masked_fill(~targets[has], float("-inf"))
    return -(torch.logsumexp(pos, -1)).mean()
