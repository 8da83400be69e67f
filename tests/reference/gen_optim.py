#!/usr/bin/python3
"""gen_optim.py — PyTorch reference trajectories for loom's optimisers, clipping and LR schedules
(tests/test_optim.c reads them).

optim.fix: for each case cK, two parameters w (3, 5) and b (7) (b is 1-D: no_decay_1d skips it) with
given gradients for 10 steps (g.w (10, 3, 5), g.b (10, 7)); the parameters after every step (traj.w,
traj.b), the clip_grad_norm_ totals (norms) and learning rates used (lrs). Computed by torch.optim in
float32, exactly as a PyTorch user would train. Keras' epsilon placement has no torch optimizer; that
case is the Keras update written out in torch float32.
  iopt = [kind (0 SGD, 1 Adam, 2 AdamW), nesterov, keras_eps, no_decay_1d, sched kind (0 const, 1 step,
          2 cosine), step_size, warmup_steps, total_steps, clip]
  fopt = [lr, beta1, beta2, eps, weight_decay, momentum, dampening, max_norm, gamma, min_lr, warmup_start]
sched.fix: learning rates of torch.optim.lr_scheduler over 30 steps (sK.lrs) with sK.iopt / sK.fopt as above.
Run: tests/reference/gen_optim.py
"""
import math
import os

import torch

import fixture

torch.manual_seed(4321)
HERE = os.path.dirname(os.path.abspath(__file__))
STEPS = 10


def make_sched(opt, kind, step_size, warmup, total, gamma, min_lr, start):
    if kind == 0:
        main = torch.optim.lr_scheduler.ConstantLR(opt, factor=1.0, total_iters=0)
    elif kind == 1:
        main = torch.optim.lr_scheduler.StepLR(opt, step_size=step_size, gamma=gamma)
    else:
        main = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total - warmup, eta_min=min_lr)
    if warmup == 0:
        return main
    warm = torch.optim.lr_scheduler.LinearLR(opt, start_factor=start, end_factor=1.0, total_iters=warmup)
    return torch.optim.lr_scheduler.SequentialLR(opt, [warm, main], milestones=[warmup])


def config(kind=1, lr=1e-2, b1=0.9, b2=0.999, eps=1e-8, wd=0.0, mom=0.0, damp=0.0, nesterov=0, keras=0,
           no_decay_1d=0, sched=0, step_size=0, warmup=0, total=0, clip=0, max_norm=0.0, gamma=1.0, min_lr=0.0,
           start=1.0):
    return dict(iopt=[kind, nesterov, keras, no_decay_1d, sched, step_size, warmup, total, clip],
                fopt=[lr, b1, b2, eps, wd, mom, damp, max_norm, gamma, min_lr, start])


CASES = [
    config(kind=1),                                            # Adam
    config(kind=1, keras=1, eps=1e-3),                         # Adam, Keras epsilon
    config(kind=2, wd=0.1),                                    # AdamW
    config(kind=1, wd=0.1),                                    # Adam + L2
    config(kind=0, lr=0.1),                                    # plain SGD
    config(kind=0, lr=0.05, mom=0.9),                          # SGD momentum
    config(kind=0, lr=0.05, mom=0.9, damp=0.3, wd=0.01),       # SGD momentum, dampening, L2
    config(kind=0, lr=0.05, mom=0.9, nesterov=1, wd=0.01),     # SGD Nesterov
    config(kind=1, clip=1, max_norm=1.0, sched=2, warmup=3, total=10, min_lr=1e-4, start=0.1),
    config(kind=0, lr=0.1, mom=0.9, nesterov=1, clip=1, max_norm=0.5, sched=1, step_size=3, gamma=0.5),
    config(kind=2, wd=0.2, no_decay_1d=1),                     # AdamW, no decay on the bias
    config(kind=1, wd=0.1, no_decay_1d=1, clip=1, max_norm=2.0, b1=0.8, b2=0.99),
]


def run(c):
    kind, nesterov, keras, no_decay, sk, step_size, warmup, total, clip = c["iopt"]
    lr, b1, b2, eps, wd, mom, damp, max_norm, gamma, min_lr, start = c["fopt"]
    w = torch.randn(3, 5, requires_grad=True)
    b = torch.randn(7, requires_grad=True)
    out = {"p0.w": w.detach().clone(), "p0.b": b.detach().clone()}
    gw = torch.randn(STEPS, 3, 5) * 1.5
    gb = torch.randn(STEPS, 7) * 1.5
    groups = [{"params": [w]}, {"params": [b], "weight_decay": 0.0}] if no_decay else [{"params": [w, b]}]
    if kind == 0:
        opt = torch.optim.SGD(groups, lr=lr, momentum=mom, dampening=damp, weight_decay=wd, nesterov=bool(nesterov))
    elif kind == 1:
        opt = torch.optim.Adam(groups, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
    else:
        opt = torch.optim.AdamW(groups, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
    sched = make_sched(opt, sk, step_size, warmup, total, gamma, min_lr, start)
    keras_state = {}
    traj_w, traj_b, norms, lrs = [], [], [], []
    for s in range(STEPS):
        w.grad = gw[s].clone()
        b.grad = gb[s].clone()
        norms.append(float(torch.nn.utils.clip_grad_norm_([w, b], max_norm)) if clip else 0.0)
        lrs.append(opt.param_groups[0]["lr"])
        if keras:  # Keras Adam: lr_t = lr sqrt(1 - b2^t) / (1 - b1^t); p -= lr_t m / (sqrt(v) + eps)
            t = s + 1
            with torch.no_grad():
                for p in (w, b):
                    m, v = keras_state.setdefault(id(p), (torch.zeros_like(p), torch.zeros_like(p)))
                    m.mul_(b1).add_(p.grad, alpha=1 - b1)
                    v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                    lr_t = lrs[-1] * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
                    p.sub_(lr_t * m / (v.sqrt() + eps))
        else:
            opt.step()
        sched.step()
        traj_w.append(w.detach().clone())
        traj_b.append(b.detach().clone())
    out.update({"g.w": gw, "g.b": gb, "traj.w": torch.stack(traj_w), "traj.b": torch.stack(traj_b),
                "norms": torch.tensor(norms), "lrs": torch.tensor(lrs),
                "iopt": torch.tensor(c["iopt"], dtype=torch.int32), "fopt": torch.tensor(c["fopt"])})
    return out


d = {"n": torch.tensor([len(CASES)], dtype=torch.int32)}
for i, c in enumerate(CASES):
    for k, v in run(c).items():
        d[f"c{i}.{k}"] = v
fixture.write(os.path.join(HERE, "optim.fix"), d)
print(f"optim.fix: {len(CASES)} cases x {STEPS} steps")

SCHEDS = [
    config(lr=0.1),
    config(lr=0.1, sched=1, step_size=3, gamma=0.5),
    config(lr=0.1, sched=2, total=20, min_lr=0.001),
    config(lr=0.1, sched=2, warmup=5, total=25, start=0.1),
    config(lr=0.05, sched=1, step_size=5, gamma=0.3, warmup=4, start=0.25),
    config(lr=0.02, warmup=6, start=0.05),
]
d = {"n": torch.tensor([len(SCHEDS)], dtype=torch.int32)}
for i, c in enumerate(SCHEDS):
    _, _, _, _, sk, step_size, warmup, total, _ = c["iopt"]
    lr, _, _, _, _, _, _, _, gamma, min_lr, start = c["fopt"]
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    sched = make_sched(opt, sk, step_size, warmup, total, gamma, min_lr, start)
    lrs = []
    for s in range(30 if sk != 2 else total):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    d[f"s{i}.lrs"] = torch.tensor(lrs, dtype=torch.float64)
    d[f"s{i}.iopt"] = torch.tensor(c["iopt"], dtype=torch.int32)
    d[f"s{i}.fopt"] = torch.tensor(c["fopt"])
fixture.write(os.path.join(HERE, "sched.fix"), d)
print(f"sched.fix: {len(SCHEDS)} schedules")
