"""Loads the trained checkpoints as torch modules whose float weights are rounded to fp16 (exactly the
values stored in the ONNX files), for export, goldens and evaluation."""
import json, os
import torch
import common as c


def _round(m):
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(p.half().float())
    return m.eval()


def scaling_factor():
    return json.load(open(c.WORK + "/vae_stats.json"))["scaling_factor"]


def load_vae():
    vae = c.VAE()
    p = c.WORK + "/vae_ft.pt"
    vae.load_state_dict(torch.load(p if os.path.exists(p) else c.WORK + "/vae.pt"))
    return _round(vae), os.path.exists(p)


def load_unet(mode):
    ck = torch.load(c.WORK + f"/unet_{mode}.pt")
    te, unet = c.TextEncoder(), c.UNet()
    te.load_state_dict(ck["text_encoder"]); unet.load_state_dict(ck["unet"])
    return _round(te), _round(unet), ck["step"], ck["loss"]


def load_attr():
    m = c.AttrClassifier(); m.load_state_dict(torch.load(c.WORK + "/attr.pt"))
    return _round(m)


def load_noisy():
    m = c.NoisyLatentClassifier(); m.load_state_dict(torch.load(c.WORK + "/noisy_cls.pt"))
    return _round(m)
