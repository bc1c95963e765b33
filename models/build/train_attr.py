"""Stage 1b: clean-image attribute classifier (sample [B,3,32,32] in [-1,1] -> logits [B,19]).
Usage: train_attr.py STEPS"""
import sys, time
import numpy as np
import torch
import common as c

STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 400
BATCH = 128
c.setup_torch(2)
imgs, sc = c.load_dataset()
labels = c.labels_from_scenes(sc)
ntr = c.N_IMAGES - c.N_VAL
rng = np.random.default_rng(2)
m = c.AttrClassifier()
print("attr params", c.n_params(m), flush=True)
opt = torch.optim.AdamW(m.parameters(), lr=2e-3, weight_decay=0.01)
t0 = time.time()
for step in range(STEPS):
    for g in opt.param_groups:
        g["lr"] = c.cosine_lr(step, STEPS, 2e-3, 50)
    idx = rng.integers(0, ntr, BATCH)
    x = c.imgs_to_tensor(imgs[idx])
    x = x + torch.randn_like(x) * torch.rand(BATCH, 1, 1, 1) * 0.15   # light noise augmentation
    y = torch.from_numpy(labels[idx])
    loss = c.per_head_ce(m(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    if step % 50 == 0 or step == STEPS - 1:
        print(f"step {step} loss {loss.item():.4f} {time.time() - t0:.0f}s", flush=True)
train_time = time.time() - t0
torch.save(m.state_dict(), c.WORK + "/attr.pt")
m.eval()
with torch.no_grad():
    x = c.imgs_to_tensor(imgs[ntr:])
    acc = c.per_head_acc(m(x), torch.from_numpy(labels[ntr:]))
c.write_json(c.WORK + "/attr_stats.json", {"steps": STEPS, "batch": BATCH, "train_seconds": round(train_time, 1),
             "final_train_loss": float(loss), "val_acc": dict(zip([h for h, _ in c.HEADS], acc)),
             "n_val": c.N_VAL, "params": c.n_params(m)})
print("done attr", acc, flush=True)
