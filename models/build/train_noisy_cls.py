"""Stage 3a: noisy-latent classifier for classifier guidance / rewards. Input: scaled noisy latent
x_t = sqrt(abar_t) z0 + sqrt(1-abar_t) eps (z0 = scaling_factor * posterior sample, SD scaled_linear
schedule), timestep t in [0,999] -> logits [B,19]. Checks the hand-written input gradient against
torch.autograd. Usage: train_noisy_cls.py STEPS"""
import json, sys, time
import numpy as np
import torch
import common as c

STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
BATCH = 256
c.setup_torch(3)
rng = np.random.default_rng(3)
_, sc = c.load_dataset()
labels = torch.from_numpy(c.labels_from_scenes(sc))
lat = np.load(c.WORK + "/latents.npz")
mean_all, std_all = lat["mean"], np.exp(0.5 * lat["logvar"])
scale = json.load(open(c.WORK + "/vae_stats.json"))["scaling_factor"]
ac = torch.from_numpy(c.alphas_cumprod()).float()
ntr = c.N_IMAGES - c.N_VAL
m = c.NoisyLatentClassifier()
print("noisy classifier params", c.n_params(m), flush=True)
opt = torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.01)


def noisy(idx, t, sample=True):
    z0 = mean_all[idx] + (std_all[idx] * rng.standard_normal(mean_all[idx].shape) if sample else 0)
    z0 = torch.from_numpy(z0 * scale).float()
    a = ac[t][:, None, None, None]
    return a.sqrt() * z0 + (1 - a).sqrt() * torch.randn_like(z0)


t0 = time.time()
run = 0.0
for step in range(STEPS):
    for g in opt.param_groups:
        g["lr"] = c.cosine_lr(step, STEPS, 1e-3, 100)
    idx = rng.integers(0, ntr, BATCH)
    t = torch.randint(0, 1000, (BATCH,))
    loss = c.per_head_ce(m(noisy(idx, t), t.float()), labels[idx])
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    run = loss.item() if step == 0 else 0.98 * run + 0.02 * loss.item()
    if step % 100 == 0 or step == STEPS - 1:
        print(f"step {step} loss {loss.item():.4f} avg {run:.4f} {time.time() - t0:.0f}s", flush=True)
train_time = time.time() - t0
torch.save(m.state_dict(), c.WORK + "/noisy_cls.pt")
m.eval()
vidx = np.arange(ntr, c.N_IMAGES)
acc = {}
with torch.no_grad():
    for tv in [0, 200, 400, 600, 800, 950]:
        t = torch.full((len(vidx),), tv)
        acc[str(tv)] = dict(zip([h for h, _ in c.HEADS], c.per_head_acc(m(noisy(vidx, t, False), t.float()), labels[vidx])))
# gradient check: explicit backward vs autograd
x = noisy(vidx[:8], torch.full((8,), 300)).requires_grad_(True)
tt = torch.linspace(0, 999, 8)
w = torch.randn(8, c.NUM_LOGITS)
logits = m(x, tt)
J = 0
for a, b in c.HEAD_SLICES:
    J = J + (w[:, a:b] * torch.log_softmax(logits[:, a:b], 1)).sum()
g_auto, = torch.autograd.grad(J, x)
with torch.no_grad():
    l2, g_exp = m.grad_forward(x.detach(), tt, w)
diff = float((g_auto - g_exp).abs().max())
print("val acc by t", acc, "grad max abs diff", diff, flush=True)
assert diff < 1e-4
c.write_json(c.WORK + "/noisy_cls_stats.json", {"steps": STEPS, "batch": BATCH, "train_seconds": round(train_time, 1),
             "final_loss_avg": run, "val_acc_by_t": acc, "grad_check_max_abs_diff": diff, "params": c.n_params(m)})
print("done noisy cls", flush=True)
