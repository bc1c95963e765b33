"""Stage 3b: VAE decoder-only fine-tune (encoder frozen, so latents and scaling_factor are unchanged).
Uses the stored posterior parameters. Usage: finetune_dec.py STEPS"""
import sys, time
import numpy as np
import torch
import common as c

STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
BATCH = 128
c.setup_torch(4)
rng = np.random.default_rng(4)
imgs, _ = c.load_dataset()
lat = np.load(c.WORK + "/latents.npz")
mean_all, std_all = lat["mean"], np.exp(0.5 * lat["logvar"])
ntr = c.N_IMAGES - c.N_VAL
vae = c.VAE()
vae.load_state_dict(torch.load(c.WORK + "/vae.pt"))
opt = torch.optim.AdamW(vae.dec.parameters(), lr=1e-3, weight_decay=0.0)
t0 = time.time()
for step in range(STEPS):
    for g in opt.param_groups:
        g["lr"] = c.cosine_lr(step, STEPS, 1e-3, 50)
    idx = rng.integers(0, ntr, BATCH)
    z = torch.from_numpy(mean_all[idx] + std_all[idx] * rng.standard_normal(mean_all[idx].shape)).float()
    x = c.imgs_to_tensor(imgs[idx])
    y = vae.dec(z)
    l1 = (y - x).abs().mean(); mse = ((y - x) ** 2).mean()
    loss = l1 + mse
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(vae.dec.parameters(), 1.0)
    opt.step()
    if step % 50 == 0 or step == STEPS - 1:
        print(f"step {step} l1 {l1.item():.4f} mse {mse.item():.4f} {time.time() - t0:.0f}s", flush=True)
    if step % 200 == 199:
        torch.save(vae.state_dict(), c.WORK + "/vae_ft.pt")
torch.save(vae.state_dict(), c.WORK + "/vae_ft.pt")
vae.eval()
with torch.no_grad():
    val = c.imgs_to_tensor(imgs[ntr:ntr + 512])
    y = vae.dec(torch.from_numpy(mean_all[ntr:ntr + 512])).clamp(-1, 1)
c.write_json(c.WORK + "/dec_stats.json", {"steps": STEPS, "batch": BATCH, "train_seconds": round(time.time() - t0, 1),
             "val_l1_mean_latent": float((y - val).abs().mean()), "val_mse_mean_latent": float(((y - val) ** 2).mean())})
print("done dec", flush=True)
