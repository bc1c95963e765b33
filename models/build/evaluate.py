"""Cheap python-side evaluation of the exported weights (fp16-rounded torch modules, identical to the
ONNX files): VAE reconstruction on held-out images, attribute-classifier accuracy, sample grids
(eps: DDIM-20 trailing, CFG 4; flow: Euler-20, CFG 4) and prompt accuracy of generated images
measured with the attribute classifier. Writes docs/samples-python*.png and work/eval_stats.json."""
import json, os, time
import numpy as np
import torch
from PIL import Image, ImageDraw
import common as c
import pack

c.setup_torch(5)
ROOT = os.path.dirname(os.path.dirname(c.HERE))
DOCS = os.path.join(ROOT, "docs")
imgs, sc = c.load_dataset()
labels = c.labels_from_scenes(sc)
ntr = c.N_IMAGES - c.N_VAL
scale = pack.scaling_factor()
vae, _ = pack.load_vae()
attr = pack.load_attr()
ac = torch.from_numpy(c.alphas_cumprod()).float()
stats = {}
with torch.no_grad():
    x = c.imgs_to_tensor(imgs[ntr:])
    y = vae.dec(vae.enc(x)[:, :4]).clamp(-1, 1)
    stats["vae_val"] = {"n": c.N_VAL, "l1": float((y - x).abs().mean()), "mse": float(((y - x) ** 2).mean()),
                        "psnr_db": float(10 * np.log10(4.0 / float(((y - x) ** 2).mean())))}
    stats["attribute_classifier_val_acc"] = dict(zip([h for h, _ in c.HEADS],
                                                     c.per_head_acc(attr(x), torch.from_numpy(labels[ntr:]))))
    stats["attribute_classifier_on_vae_recon_acc"] = dict(zip([h for h, _ in c.HEADS],
                                                     c.per_head_acc(attr(y), torch.from_numpy(labels[ntr:]))))
print(json.dumps(stats, indent=1), flush=True)


def sample(mode, te, unet, prompts, seed, steps=20, cfg=4.0):
    g = torch.Generator().manual_seed(seed)
    n = len(prompts)
    ids = torch.tensor([c.tokenize(p) for p in prompts] + [c.tokenize("")] * n, dtype=torch.int32)
    with torch.no_grad():
        ctx = te(ids)
        x = torch.randn(n, 4, 8, 8, generator=g)
        if mode == "eps":
            ts = list(np.round(np.arange(1000, 0, -1000 / steps)).astype(int) - 1)
            for i, t in enumerate(ts):
                e = unet(torch.cat([x, x]), torch.tensor([float(t)]), ctx)
                e = e[n:] + cfg * (e[:n] - e[n:])
                a = ac[t]
                ap = ac[ts[i + 1]] if i + 1 < len(ts) else ac[0]
                x0 = (x - (1 - a).sqrt() * e) / a.sqrt()
                x = ap.sqrt() * x0 + (1 - ap).sqrt() * e
        else:
            sig = torch.linspace(1, 0, steps + 1)
            for i in range(steps):
                v = unet(torch.cat([x, x]), torch.tensor([float(sig[i]) * 1000]), ctx)
                v = v[n:] + cfg * (v[:n] - v[n:])
                x = x + (sig[i + 1] - sig[i]) * v
        return vae.dec(x / scale).clamp(-1, 1)


def to_u8(t):
    return ((t.permute(0, 2, 3, 1).numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)


GRID_PROMPTS = ["a red circle", "a big blue square on the left", "a small green triangle at the top",
                "a yellow circle on the right", "an orange square at the bottom", "a big purple triangle",
                "a blue circle in the center", "a triangle on the left", "a red shape",
                "a red circle on the left and a blue square on the right",
                "a green triangle at the top and a yellow circle at the bottom", ""]
NCOL = 6


def grid(rows, path):
    S = 3 * 32
    W = 370
    im = Image.new("RGB", (W + NCOL * (S + 4), len(rows) * (S + 4)), (255, 255, 255))
    d = ImageDraw.Draw(im)
    for r, (p, u8) in enumerate(rows):
        d.text((4, r * (S + 4) + S // 2 - 6), p if p else "(empty prompt)", fill=(0, 0, 0))
        for k in range(NCOL):
            im.paste(Image.fromarray(u8[k]).resize((S, S), Image.NEAREST), (W + k * (S + 4), r * (S + 4)))
    im.save(path)


rng = np.random.default_rng(123)
test_rows = c.make_scenes(400, rng)
test_single = test_rows[test_rows[:, 0] == 1][:96]
test_two = test_rows[test_rows[:, 0] == 2][:64]


def full_caption(row):
    if row[0] == 1:
        return " ".join(c.object_phrase(c.SHAPES[row[1]], c.COLOURS[row[2]], {0: "small", 2: "big"}[row[4]], None,
                                        pos=c.POSITIONS[row[3]]))
    a = c.object_phrase(c.SHAPES[row[1]], c.COLOURS[row[2]], None, None, pos=c.POSITIONS[row[3]])
    b = c.object_phrase(c.SHAPES[row[5]], c.COLOURS[row[6]], None, None, pos=c.POSITIONS[row[7]])
    return " ".join(a + ["and"] + b)


os.makedirs(DOCS, exist_ok=True)
for mode in ("eps", "flow"):
    if not os.path.exists(c.WORK + f"/unet_{mode}.pt"):
        continue
    te, unet, step, _ = pack.load_unet(mode)
    t0 = time.time()
    rows = []
    for p in GRID_PROMPTS:
        rows.append((p, to_u8(sample(mode, te, unet, [p] * NCOL, seed=1))))
    grid(rows, os.path.join(DOCS, "samples-python.png" if mode == "eps" else "samples-python-flow.png"))
    # prompt accuracy with the attribute classifier
    res = {}
    for name, tr in (("single", test_single), ("two", test_two)):
        caps = [full_caption(r) for r in tr]
        ims = sample(mode, te, unet, caps, seed=2)
        with torch.no_grad():
            lg = attr(ims)
        pred = np.stack([lg[:, a:b].argmax(1).numpy() for a, b in c.HEAD_SLICES], 1)
        lab = c.labels_from_scenes(tr)
        if name == "single":
            ok = pred == lab
            res[name] = {"n": len(tr), **{h: float(ok[:, k].mean()) for k, (h, _) in enumerate(c.HEADS)},
                         "all_correct": float(ok.all(1).mean())}
        else:  # classifier reads the first (left/top) object + count
            ok = pred[:, [0, 1, 2, 4]] == lab[:, [0, 1, 2, 4]]
            res[name] = {"n": len(tr), "first_object_shape": float(ok[:, 0].mean()),
                         "first_object_colour": float(ok[:, 1].mean()), "first_object_position": float(ok[:, 2].mean()),
                         "count": float(ok[:, 3].mean()), "all_correct": float(ok.all(1).mean())}
    stats[f"samples_{mode}"] = {"checkpoint_step": step, "sampler": "DDIM-20 trailing" if mode == "eps" else "Euler-20",
                                "cfg": 4.0, "prompt_accuracy_by_attribute_classifier": res,
                                "seconds": round(time.time() - t0, 1)}
    print(mode, json.dumps(stats[f"samples_{mode}"], indent=1), flush=True)
c.write_json(c.WORK + "/eval_stats.json", stats)
