"""Prints the measured numbers (work/*_stats.json, file sizes) as markdown, for models/README.md."""
import json, os
import common as c

W = c.WORK
ROOT = os.path.dirname(c.HERE)


def j(n):
    p = os.path.join(W, n)
    return json.load(open(p)) if os.path.exists(p) else {}


vae, attr, eps, flow, ncls, dec, ev = (j("vae_stats.json"), j("attr_stats.json"), j("unet_eps_stats.json"),
                                       j("unet_flow_stats.json"), j("noisy_cls_stats.json"), j("dec_stats.json"),
                                       j("eval_stats.json"))
print("| run | steps × batch | wall time (1 core, beside another run) | result |\n|---|---|---|---|")
print(f"| VAE | {vae.get('steps')} × 128 | {vae.get('train_seconds')} s + {vae.get('encode_seconds')} s encoding | "
      f"val L1 {vae.get('val_l1_mean_latent', 0):.4f}, MSE {vae.get('val_mse_mean_latent', 0):.5f} (512 held-out, mean latent); scaling_factor {vae.get('scaling_factor', 0):.4f} |")
print(f"| attribute classifier | {attr.get('steps')} × 128 | {attr.get('train_seconds')} s | val acc " +
      ", ".join(f"{k} {v * 100:.2f} %" for k, v in attr.get('val_acc', {}).items()) + " |")
for name, s in (("text encoder + UNet, eps", eps), ("text encoder + UNet, flow", flow)):
    print(f"| {name} | {s.get('steps')} × 64 | {s.get('train_seconds')} s | final loss (EMA-smoothed) {s.get('final_loss_avg', 0):.4f} |")
if ncls:
    a = ncls["val_acc_by_t"]
    print(f"| noisy-latent classifier | {ncls['steps']} × 256 | {ncls['train_seconds']} s | final CE (sum of 5 heads) {ncls['final_loss_avg']:.3f}; "
          "val acc (shape/colour/position/size/count) at t=" + "; ".join(
              f"{t}: " + "/".join(f"{v * 100:.0f}" for v in a[t].values()) for t in a) + " % |")
if dec:
    print(f"| VAE decoder fine-tune | {dec['steps']} × 128 | {dec['train_seconds']} s | val L1 {dec['val_l1_mean_latent']:.4f}, MSE {dec['val_mse_mean_latent']:.5f} |")
print()
print("Evaluation (`evaluate.py`):\n```\n" + json.dumps(ev, indent=1) + "\n```")
print("\nFile sizes:\n\n| file | bytes |\n|---|---|")
tot = 0
for d in ("shapes-32", "shapes-32-flow"):
    for r, _, fs in sorted(os.walk(os.path.join(ROOT, d))):
        for f in sorted(fs):
            p = os.path.join(r, f)
            tot += os.path.getsize(p)
            if p.endswith(".onnx") or f == "golden.json":
                print(f"| {os.path.relpath(p, ROOT)} | {os.path.getsize(p):,} |")
print(f"| **total, all files of both packs** | **{tot:,}** |")
