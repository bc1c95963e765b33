"""Stage 2: text encoder + UNet trained jointly on VAE latents.
  eps : DDPM eps-prediction (SD scaled_linear schedule, 1000 steps), min-SNR-5 weighting.
  flow: rectified flow, z_s = (1-s) z0 + s eps, s ~ sigmoid(N(0,1)), target v = eps - z0, timestep 1000 s.
10 % of captions are replaced by the empty prompt (classifier-free guidance). EMA 0.999 weights are
checkpointed every 250 steps (work/unet_<mode>.pt) so a run can be stopped and exported at any time.
Usage: train_unet.py eps|flow STEPS"""
import copy, json, os, sys, time
import numpy as np
import torch
import common as c

MODE = sys.argv[1]
STEPS = int(sys.argv[2])
BATCH = 64
LR = 8e-4
c.setup_torch(10 if MODE == "eps" else 11)
rng = np.random.default_rng(10 if MODE == "eps" else 11)
_, sc = c.load_dataset()
lat = np.load(c.WORK + "/latents.npz")
mean_all, std_all = lat["mean"], np.exp(0.5 * lat["logvar"])
scale = json.load(open(c.WORK + "/vae_stats.json"))["scaling_factor"]
ntr = c.N_IMAGES - c.N_VAL
te, unet = c.TextEncoder(), c.UNet()
print(MODE, "unet params", c.n_params(unet), "text params", c.n_params(te), "scale", scale, flush=True)
params = list(te.parameters()) + list(unet.parameters())
opt = torch.optim.AdamW(params, lr=LR, weight_decay=0.01)
ema_te, ema_unet = copy.deepcopy(te), copy.deepcopy(unet)
ema_params = list(ema_te.parameters()) + list(ema_unet.parameters())
ac = torch.from_numpy(c.alphas_cumprod()).float()
EMPTY = c.tokenize("")


def save(step, avg):
    tmp = c.WORK + f"/unet_{MODE}.pt.tmp"
    torch.save({"step": step, "loss": avg, "text_encoder": ema_te.state_dict(), "unet": ema_unet.state_dict(),
                "scaling_factor": scale}, tmp)
    os.replace(tmp, c.WORK + f"/unet_{MODE}.pt")


t0 = time.time()
run, hist = 0.0, []
for step in range(STEPS):
    for g in opt.param_groups:
        g["lr"] = c.cosine_lr(step, STEPS, LR, 300)
    idx = rng.integers(0, ntr, BATCH)
    z0 = torch.from_numpy((mean_all[idx] + std_all[idx] * rng.standard_normal(mean_all[idx].shape)) * scale).float()
    ids = torch.tensor([EMPTY if rng.random() < 0.1 else c.tokenize(c.caption_for(sc[i], rng)) for i in idx])
    noise = torch.randn_like(z0)
    if MODE == "eps":
        t = torch.randint(0, 1000, (BATCH,))
        a = ac[t][:, None, None, None]
        xt = a.sqrt() * z0 + (1 - a).sqrt() * noise
        snr = ac[t] / (1 - ac[t])
        w = torch.clamp(snr, max=5.0) / snr
        pred = unet(xt, t.float(), te(ids))
        loss = (w * ((pred - noise) ** 2).mean(dim=(1, 2, 3))).mean()
    else:
        s = torch.sigmoid(torch.randn(BATCH))
        sb = s[:, None, None, None]
        xt = (1 - sb) * z0 + sb * noise
        pred = unet(xt, s * 1000.0, te(ids))
        loss = ((pred - (noise - z0)) ** 2).mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    with torch.no_grad():
        d = min(0.999, (1 + step) / (10 + step))
        for pe, p in zip(ema_params, params):
            pe.mul_(d).add_(p.detach(), alpha=1 - d)
    run = loss.item() if step == 0 else 0.98 * run + 0.02 * loss.item()
    if step % 50 == 0 or step == STEPS - 1:
        print(f"step {step} loss {loss.item():.4f} avg {run:.4f} {time.time() - t0:.0f}s", flush=True)
        hist.append([step, round(run, 5), round(time.time() - t0, 1)])
    if step % 250 == 249:
        save(step + 1, run)
save(STEPS, run)
c.write_json(c.WORK + f"/unet_{MODE}_stats.json", {"mode": MODE, "steps": STEPS, "batch": BATCH,
             "train_seconds": round(time.time() - t0, 1), "final_loss_avg": run, "history": hist,
             "unet_params": c.n_params(unet), "text_encoder_params": c.n_params(te)})
print("done", MODE, flush=True)
