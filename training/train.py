"""
Trains Ghostline's default completion model: a small Llama (grouped-query
attention, SwiGLU, RMSNorm, tied embeddings) on token ids made by the
project's tokenizer (training/corpus/tokenizeCorpus.ts), for a fixed
wall-clock budget.

RoPE rotates adjacent pairs (2i, 2i+1) of each head, the convention llama.cpp
applies to GGUF Llama weights, so the weights export without permutation.

Inputs (--data): train.u16.xz, or its parts train.part1.u16.xz,
train.part2.u16.xz, ... read one after another, and val.u16.xz
(little-endian uint16 ids, xz),
check-sequences.json (token sequences whose logits come back for the export
check). Outputs (--out): weights.f16.partNN (the float16 tensors one after
another, split into parts that each fit the transfer limit), weights.json
(names, shapes, offsets, config), check-logits.f32 (float32 logits of the
check sequences at the listed positions), metrics.json, and the log.

Runs on a CUDA GPU in bf16 autocast, or on the CPU in float32 for a smoke
test (--smoke: a tiny model and a few steps).
"""
import argparse
import json
import lzma
import math
import os
import re
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def log(msg):
    print(msg, flush=True)


class Config:
    def __init__(self, **kw):
        self.vocab = 32256
        self.dim = 384
        self.n_layers = 8
        self.n_heads = 6
        self.n_kv_heads = 2
        self.ffn = 1152
        self.ctx = 2048
        self.norm_eps = 1e-5
        self.rope_base = 10000.0
        for k, v in kw.items():
            setattr(self, k, v)
        assert self.dim % self.n_heads == 0 and self.n_heads % self.n_kv_heads == 0
        self.head_dim = self.dim // self.n_heads

    def as_dict(self):
        return dict(vars(self))


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        xf = x.float()
        y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return (y * self.weight.float()).type_as(x)


def rope_tables(cfg, length, device):
    # theta_i = base^(-2i/d) for pair i, as llama.cpp's normal (non-NeoX) mode.
    inv = cfg.rope_base ** (-torch.arange(0, cfg.head_dim, 2, device=device, dtype=torch.float64) / cfg.head_dim)
    ang = torch.arange(length, device=device, dtype=torch.float64)[:, None] * inv[None, :]
    return torch.cos(ang).float(), torch.sin(ang).float()


def apply_rope(x, cos, sin):
    # x: (B, T, H, D); pairs (2i, 2i+1) rotate by angle pos * theta_i.
    b, t, h, d = x.shape
    xp = x.float().reshape(b, t, h, d // 2, 2)
    x0, x1 = xp[..., 0], xp[..., 1]
    c = cos[:t][None, :, None, :]
    s = sin[:t][None, :, None, :]
    out = torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1)
    return out.reshape(b, t, h, d).type_as(x)


HAS_SDPA = hasattr(F, "scaled_dot_product_attention")


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        hd = cfg.head_dim
        self.wq = nn.Linear(cfg.dim, cfg.n_heads * hd, bias=False)
        self.wk = nn.Linear(cfg.dim, cfg.n_kv_heads * hd, bias=False)
        self.wv = nn.Linear(cfg.dim, cfg.n_kv_heads * hd, bias=False)
        self.wo = nn.Linear(cfg.n_heads * hd, cfg.dim, bias=False)

    def forward(self, x, cos, sin):
        cfg = self.cfg
        b, t, _ = x.shape
        q = self.wq(x).view(b, t, cfg.n_heads, cfg.head_dim)
        k = self.wk(x).view(b, t, cfg.n_kv_heads, cfg.head_dim)
        v = self.wv(x).view(b, t, cfg.n_kv_heads, cfg.head_dim)
        q = apply_rope(q, cos, sin).transpose(1, 2)
        k = apply_rope(k, cos, sin).transpose(1, 2)
        v = v.transpose(1, 2)
        # Query head h reads KV head h // group, as llama.cpp broadcasts them.
        group = cfg.n_heads // cfg.n_kv_heads
        k = k.repeat_interleave(group, dim=1)
        v = v.repeat_interleave(group, dim=1)
        if HAS_SDPA:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            att = (q.float() @ k.float().transpose(-1, -2)) / math.sqrt(cfg.head_dim)
            mask = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
            att = att.masked_fill(~mask, float("-inf")).softmax(-1)
            y = (att @ v.float()).type_as(q)
        return self.wo(y.transpose(1, 2).reshape(b, t, cfg.n_heads * cfg.head_dim))


class FeedForward(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.w1 = nn.Linear(cfg.dim, cfg.ffn, bias=False)  # gate
        self.w3 = nn.Linear(cfg.dim, cfg.ffn, bias=False)  # up
        self.w2 = nn.Linear(cfg.ffn, cfg.dim, bias=False)  # down

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.attn_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.attn = Attention(cfg)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.ffn = FeedForward(cfg)

    def forward(self, x, cos, sin):
        x = x + self.attn(self.attn_norm(x), cos, sin)
        return x + self.ffn(self.ffn_norm(x))


class Llama(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab, cfg.dim)
        self.layers = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layers)])
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        cos, sin = rope_tables(cfg, cfg.ctx, "cpu")
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        self.reset_parameters()

    def reset_parameters(self):
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02
                # Residual projections shrink with depth so the stream's variance stays bounded.
                if name.endswith("wo.weight") or name.endswith("w2.weight"):
                    std = 0.02 / math.sqrt(2 * self.cfg.n_layers)
                nn.init.normal_(p, mean=0.0, std=std)

    def forward(self, idx):
        x = self.embed(idx)
        for layer in self.layers:
            x = layer(x, self.cos, self.sin)
        x = self.norm(x)
        return x @ self.embed.weight.t()  # tied output


# GGUF tensor name and ne (row length first) of each parameter.
def gguf_tensors(model):
    cfg = model.cfg
    out = [("token_embd.weight", model.embed.weight), ("output_norm.weight", model.norm.weight)]
    for i, layer in enumerate(model.layers):
        b = f"blk.{i}"
        out += [
            (f"{b}.attn_norm.weight", layer.attn_norm.weight),
            (f"{b}.attn_q.weight", layer.attn.wq.weight),
            (f"{b}.attn_k.weight", layer.attn.wk.weight),
            (f"{b}.attn_v.weight", layer.attn.wv.weight),
            (f"{b}.attn_output.weight", layer.attn.wo.weight),
            (f"{b}.ffn_norm.weight", layer.ffn_norm.weight),
            (f"{b}.ffn_gate.weight", layer.ffn.w1.weight),
            (f"{b}.ffn_up.weight", layer.ffn.w3.weight),
            (f"{b}.ffn_down.weight", layer.ffn.w2.weight),
        ]
    assert len(out) == len(list(model.parameters())), "every parameter must be exported"
    return out


def load_ids(path):
    with lzma.open(path, "rb") as f:
        raw = f.read()
    return np.frombuffer(raw, dtype="<u2").astype(np.int64)


def train_stream_files(data_dir):
    """train.u16.xz, or the parts a large stream was cut into, in order."""
    single = os.path.join(data_dir, "train.u16.xz")
    parts = {}
    for name in os.listdir(data_dir):
        m = re.fullmatch(r"train\.part(\d+)\.u16\.xz", name)
        if m:
            parts[int(m.group(1))] = os.path.join(data_dir, name)
    if os.path.exists(single):
        if parts:
            raise SystemExit(f"{data_dir}: both train.u16.xz and train.partN.u16.xz are present; keep one stream")
        return [single]
    if not parts:
        raise SystemExit(f"{data_dir}: no train.u16.xz nor train.part1.u16.xz")
    if sorted(parts) != list(range(1, len(parts) + 1)):
        raise SystemExit(f"{data_dir}: train parts {sorted(parts)} are not numbered 1..{len(parts)}")
    return [parts[i] for i in range(1, len(parts) + 1)]


def load_train_ids(data_dir):
    return np.concatenate([load_ids(f) for f in train_stream_files(data_dir)])


def batch_from(data, starts, t):
    idx = starts[:, None] + torch.arange(t + 1, device=data.device)[None, :]
    chunk = data[idx]
    return chunk[:, :-1], chunk[:, 1:]


def lr_at(step, progress, args):
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    p = min(1.0, progress)
    return args.min_lr + 0.5 * (args.lr - args.min_lr) * (1 + math.cos(math.pi * p))


@torch.no_grad()
def evaluate(model, val, t, batch, max_windows, device, autocast):
    # Consecutive, non-overlapping windows from the start of the held-out stream.
    model.eval()
    n = min(max_windows, (len(val) - 1) // t)
    total, count, per_window = 0.0, 0, []
    for at in range(0, n, batch):
        starts = torch.arange(at, min(n, at + batch), device=device) * t
        x, y = batch_from(val, starts, t)
        with autocast():
            logits = model(x)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1), reduction="none").view(y.shape)
        per_window += [round(v, 5) for v in loss.mean(1).tolist()]
        total += loss.sum().item()
        count += y.numel()
    model.train()
    return total / max(1, count), count, per_window


def save_weights(model, out_dir, part_bytes, cfg, extra):
    # float16 tensors in GGUF order, one flat buffer cut into parts.
    index, blobs, offset = [], [], 0
    for name, p in gguf_tensors(model):
        a = p.detach().float().cpu().numpy().astype("<f2")
        index.append({"name": name, "shape": list(p.shape), "offset": offset, "count": int(a.size)})
        blobs.append(a.tobytes())
        offset += a.nbytes
    buf = b"".join(blobs)
    parts = []
    for i in range(0, len(buf), part_bytes):
        name = f"weights.f16.part{len(parts):02d}"
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(buf[i : i + part_bytes])
        parts.append(name)
    meta = {"config": cfg.as_dict(), "dtype": "f16", "bytes": len(buf), "parts": parts, "tensors": index}
    meta.update(extra)
    with open(os.path.join(out_dir, "weights.json"), "w") as f:
        json.dump(meta, f, indent=1)


def round_to_f16(model):
    # The exported weights are float16: the check logits must come from exactly those.
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--train-seconds", type=float, default=400)
    ap.add_argument("--deadline-seconds", type=float, default=0, help="stop training this long after start-up at the latest, compilation included")
    ap.add_argument("--batch-tokens", type=int, default=262144)
    ap.add_argument("--micro-batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr", type=float, default=2e-4)
    ap.add_argument("--warmup", type=int, default=150)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--eval-windows", type=int, default=512)
    ap.add_argument("--val-every", type=int, default=400)
    ap.add_argument("--part-mb", type=float, default=15)
    ap.add_argument("--compile", type=int, default=1)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--max-steps", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()

    script_start = time.time()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(args.seed)
    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        log(f"device {torch.cuda.get_device_name(0)}, torch {torch.__version__}")

    cfg = Config()
    if args.smoke:
        cfg = Config(dim=64, n_layers=2, n_heads=4, n_kv_heads=2, ffn=160, ctx=128)
    t = cfg.ctx

    t0 = time.time()
    train = torch.from_numpy(load_train_ids(args.data)).to(device)
    val = torch.from_numpy(load_ids(os.path.join(args.data, "val.u16.xz"))).to(device)
    with open(os.path.join(args.data, "check-sequences.json")) as f:
        checks = json.load(f)
    log(f"train {len(train)} tokens, val {len(val)} tokens, loaded in {time.time() - t0:.1f}s")

    model = Llama(cfg).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"config {json.dumps(cfg.as_dict())}, {n_params / 1e6:.2f}M parameters")

    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt_kw = dict(lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    if cuda:
        opt_kw["fused"] = True
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], **opt_kw
    )

    if cuda:
        autocast = lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    else:
        import contextlib

        autocast = contextlib.nullcontext
    def loss_of(x, y):
        with autocast():
            logits = model(x)
        return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1))

    step_loss = loss_of
    if args.compile and cuda and hasattr(torch, "compile"):
        step_loss = torch.compile(loss_of)

    micro = args.micro_batch if not args.smoke else 4
    accum = max(1, args.batch_tokens // (micro * t)) if not args.smoke else 2
    log(f"batch {micro}x{accum} sequences of {t} = {micro * accum * t} tokens per step")
    gen = torch.Generator(device=device)
    gen.manual_seed(args.seed)
    max_start = len(train) - t - 1

    def train_step(step, progress):
        lr = lr_at(step, progress, args)
        for g in opt.param_groups:
            g["lr"] = lr
        total = 0.0
        for _ in range(accum):
            starts = torch.randint(0, max_start, (micro,), device=device, generator=gen)
            x, y = batch_from(train, starts, t)
            loss = step_loss(x, y)
            (loss / accum).backward()
            total += loss.detach()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return total / accum, norm, lr

    # The first step compiles; the time budget starts after it.
    tc = time.time()
    loss, _, _ = train_step(0, 0.0)
    log(f"step 0 loss {loss.item():.4f} (first step with compilation {time.time() - tc:.1f}s)")
    start = time.time()
    step, tokens = 1, micro * accum * t
    history = []
    checkpointed = False
    while True:
        elapsed = time.time() - start
        budget = args.train_seconds
        if args.deadline_seconds:
            budget = min(budget, args.deadline_seconds - (start - script_start))
        progress = elapsed / budget
        if progress >= 1.0 or (args.max_steps and step >= args.max_steps):
            break
        loss, norm, lr = train_step(step, progress)
        tokens += micro * accum * t
        if step % 50 == 0 or args.smoke:
            lv = loss.item()
            history.append({"step": step, "seconds": round(elapsed, 1), "tokens": tokens, "loss": round(lv, 4)})
            log(f"step {step} loss {lv:.4f} gnorm {norm.item():.3f} lr {lr:.2e} tokens {tokens / 1e6:.1f}M {tokens / max(1e-9, time.time() - start) / 1e6:.2f}M tok/s")
        if step % args.val_every == 0:
            # A quick look at held-out loss, to see whether repeated epochs start to overfit.
            vl, _, _ = evaluate(model, val, t, micro, 64 if not args.smoke else 2, device, autocast)
            history.append({"step": step, "seconds": round(elapsed, 1), "tokens": tokens, "val_loss": round(vl, 4)})
            log(f"step {step} held-out loss {vl:.4f}")
        if not checkpointed and progress > 0.6:
            # Insurance against the call being cut short.
            save_weights(model, args.out, int(args.part_mb * 1e6), cfg, {"partial": True, "step": step})
            checkpointed = True
        step += 1
    train_seconds = time.time() - start
    log(f"trained {step} steps, {tokens / 1e6:.1f}M tokens in {train_seconds:.1f}s")

    round_to_f16(model)
    val_loss, val_tokens, val_windows = evaluate(model, val, t, micro, args.eval_windows if not args.smoke else 4, device, autocast)
    log(f"held-out loss {val_loss:.4f} ppl {math.exp(val_loss):.3f} over {val_tokens} tokens (bf16 autocast)")

    # Check logits in full float32 (no TF32) from the float16 weights.
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    model.float()
    check_out = []
    with torch.no_grad():
        rows = []
        for seq in checks["sequences"]:
            ids = torch.tensor(seq["tokens"], device=device)[None, :]
            logits = model(ids)[0].float().cpu().numpy()
            rows.append(logits[seq["positions"]])
            check_out.append({"name": seq["name"], "positions": seq["positions"], "argmax": [int(i) for i in logits[seq["positions"]].argmax(-1)]})
        np.concatenate(rows, axis=0).astype("<f4").tofile(os.path.join(args.out, "check-logits.f32"))

    metrics = {
        "params": n_params,
        "steps": step,
        "tokens_seen": tokens,
        "train_seconds": round(train_seconds, 1),
        "train_tokens_unique": int(len(train)),
        "final_train_loss": next((h["loss"] for h in reversed(history) if "loss" in h), None),
        "val_loss": val_loss,
        "val_ppl": math.exp(val_loss),
        "val_tokens": val_tokens,
        "val_window_losses": val_windows,
        "history": history,
        "checks": check_out,
        "args": vars(args),
    }
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
    save_weights(model, args.out, int(args.part_mb * 1e6), cfg, {"partial": False, "step": step})
    log("done")


if __name__ == "__main__":
    main()
