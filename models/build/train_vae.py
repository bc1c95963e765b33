"""Stage 1a: KL autoencoder 32x32x3 <-> 8x8x4. Then encodes the whole dataset (posterior mean and
logvar, saved for the UNet/classifier stages) and computes scaling_factor = 1/std(mean latents).
Usage: train_vae.py STEPS"""
import sys, time
import numpy as np
import torch
import torch.nn.functional as F
import common as c

STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 600
BATCH = 128
c.setup_torch(1)
imgs, sc = c.load_dataset()
train = imgs[: c.N_IMAGES - c.N_VAL]
val = c.imgs_to_tensor(imgs[c.N_IMAGES - c.N_VAL:][:512])
rng = np.random.default_rng(1)
vae = c.VAE()
print("vae params", c.n_params(vae), "enc", c.n_params(vae.enc), "dec", c.n_params(vae.dec), flush=True)
opt = torch.optim.AdamW(vae.parameters(), lr=2e-3, weight_decay=0.0)


def loss_fn(x):
    ml = vae.enc(x)
    mean, logvar = ml[:, :4], ml[:, 4:].clamp(-30, 20)
    z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
    y = vae.dec(z)
    l1 = (y - x).abs().mean()
    mse = ((y - x) ** 2).mean()
    kl = 0.5 * (mean ** 2 + logvar.exp() - 1 - logvar).mean()
    return l1 + mse + 1e-4 * kl, l1, mse, kl


t0 = time.time()
for step in range(STEPS):
    for g in opt.param_groups:
        g["lr"] = c.cosine_lr(step, STEPS, 2e-3, 100)
    idx = rng.integers(0, len(train), BATCH)
    x = c.imgs_to_tensor(train[idx])
    loss, l1, mse, kl = loss_fn(x)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
    opt.step()
    if step % 50 == 0 or step == STEPS - 1:
        print(f"step {step} loss {loss.item():.4f} l1 {l1.item():.4f} mse {mse.item():.4f} kl {kl.item():.3f} "
              f"{time.time() - t0:.0f}s", flush=True)
    if step % 200 == 199:
        torch.save(vae.state_dict(), c.WORK + "/vae.pt")
train_time = time.time() - t0
torch.save(vae.state_dict(), c.WORK + "/vae.pt")

vae.eval()
with torch.no_grad():
    ml = vae.enc(val)
    y = vae.dec(ml[:, :4]).clamp(-1, 1)
    val_l1 = float((y - val).abs().mean()); val_mse = float(((y - val) ** 2).mean())
    t1 = time.time()
    means, logvars = [], []
    for i in range(0, len(imgs), 500):
        ml = vae.enc(c.imgs_to_tensor(imgs[i:i + 500]))
        means.append(ml[:, :4].numpy()); logvars.append(ml[:, 4:].clamp(-30, 20).numpy())
    means = np.concatenate(means); logvars = np.concatenate(logvars)
scale = float(1.0 / means[: c.N_IMAGES - c.N_VAL].std())
np.savez(c.WORK + "/latents.npz", mean=means.astype(np.float32), logvar=logvars.astype(np.float32))
c.write_json(c.WORK + "/vae_stats.json", {
    "steps": STEPS, "batch": BATCH, "train_seconds": round(train_time, 1), "encode_seconds": round(time.time() - t1, 1),
    "final_train_loss": float(loss), "val_l1_mean_latent": val_l1, "val_mse_mean_latent": val_mse,
    "scaling_factor": scale, "latent_mean_std": float(means.std()),
    "posterior_std_mean": float(np.exp(0.5 * logvars).mean()), "params": c.n_params(vae)})
print("done vae", val_l1, val_mse, "scale", scale, flush=True)
