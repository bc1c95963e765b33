"""Shared code for the diffgraph default model pack (shapes-32).

Dataset generator (procedural scenes with known ground truth), captions + tokenizer, network
definitions, noise schedule. Only numpy, PIL and torch 1.13 (Debian python3-torch) are used.
"""
import json
import math
import os
import time

import numpy as np
from PIL import Image, ImageDraw

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.environ.get("DIFFGRAPH_WORK", os.path.join(HERE, "work"))
os.makedirs(WORK, exist_ok=True)

# ----------------------------------------------------------------------------------------------
# Dataset definition
# ----------------------------------------------------------------------------------------------
SHAPES = ["circle", "square", "triangle"]
COLOURS = ["red", "green", "blue", "yellow", "purple", "orange"]
COLOUR_RGB = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (235, 200, 30),
    "purple": (140, 60, 180),
    "orange": (245, 130, 20),
}
POSITIONS = ["center", "left", "right", "top", "bottom"]
POS_XY = {"center": (16, 16), "left": (8, 16), "right": (24, 16), "top": (16, 8), "bottom": (16, 24)}
POS_PHRASE = {"center": "in the center", "left": "on the left", "right": "on the right",
              "top": "at the top", "bottom": "at the bottom"}
SIZES = ["small", "medium", "large"]      # medium = objects of two-object scenes
SIZE_R = {"small": 4.0, "medium": 5.0, "large": 7.0}
COUNTS = ["one", "two"]
BG = (245, 245, 245)

HEADS = [("shape", SHAPES), ("colour", COLOURS), ("position", POSITIONS), ("size", SIZES), ("count", COUNTS)]
HEAD_SLICES = []
_o = 0
for _n, _l in HEADS:
    HEAD_SLICES.append((_o, _o + len(_l)))
    _o += len(_l)
NUM_LOGITS = _o  # 19

# scene table columns
# 0 count(1|2) 1 shape0 2 colour0 3 pos0 4 size0 5 shape1 6 colour1 7 pos1 8 x-jitter0*100 ...
N_IMAGES = 60000
N_VAL = 3000


def make_scenes(n, rng):
    """Returns an int array [n, 9]: count, shape0, colour0, pos0, size0, shape1, colour1, pos1, pad."""
    sc = np.zeros((n, 9), np.int64)
    two = rng.random(n) < 0.4
    sc[:, 0] = np.where(two, 2, 1)
    sc[:, 1] = rng.integers(0, 3, n)
    sc[:, 2] = rng.integers(0, 6, n)
    sc[:, 5] = rng.integers(0, 3, n)
    sc[:, 6] = rng.integers(0, 6, n)
    single_pos = rng.integers(0, 5, n)
    single_size = np.where(rng.random(n) < 0.5, 0, 2)
    lr = rng.random(n) < 0.5  # two-object layout: left/right or top/bottom
    sc[:, 3] = np.where(two, np.where(lr, 1, 3), single_pos)
    sc[:, 7] = np.where(two, np.where(lr, 2, 4), -1)
    sc[:, 4] = np.where(two, 1, single_size)
    sc[:, 5] = np.where(two, sc[:, 5], -1)
    sc[:, 6] = np.where(two, sc[:, 6], -1)
    return sc


def draw_shape(d, shape, cx, cy, r, colour, s=4):
    cx, cy, r = cx * s, cy * s, r * s
    if shape == "circle":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
    elif shape == "square":
        h = r * 0.88
        d.rectangle([cx - h, cy - h, cx + h, cy + h], fill=colour)
    else:  # equilateral triangle pointing up, circumradius ~1.15 r, centred on its bbox
        R = r * 1.15
        h = R * 1.5
        top = cy - h / 2
        bot = cy + h / 2
        half = R * math.sqrt(3) / 2
        d.polygon([(cx, top), (cx - half, bot), (cx + half, bot)], fill=colour)


def render_scene(row, jit):
    img = Image.new("RGB", (128, 128), BG)
    d = ImageDraw.Draw(img)
    objs = [(row[1], row[2], row[3], row[4])]
    if row[0] == 2:
        objs.append((row[5], row[6], row[7], 1))
    for k, (sh, co, po, si) in enumerate(objs):
        x, y = POS_XY[POSITIONS[po]]
        if row[0] == 2:  # two objects (r=5) sit slightly closer to the middle
            if po == 1: x = 9
            if po == 2: x = 23
            if po == 3: y = 9
            if po == 4: y = 23
        x += jit[2 * k]
        y += jit[2 * k + 1]
        draw_shape(d, SHAPES[sh], x, y, SIZE_R[SIZES[si]] + jit[4 + k], COLOUR_RGB[COLOURS[co]])
    return np.asarray(img.resize((32, 32), Image.BOX), dtype=np.uint8)


def generate_dataset(n=N_IMAGES, seed=0):
    rng = np.random.default_rng(seed)
    sc = make_scenes(n, rng)
    jit = np.concatenate([rng.uniform(-1.5, 1.5, (n, 4)), rng.uniform(-0.4, 0.4, (n, 2))], 1)
    imgs = np.zeros((n, 32, 32, 3), np.uint8)
    for i in range(n):
        imgs[i] = render_scene(sc[i], jit[i])
    return imgs, sc


def labels_from_scenes(sc):
    """[n,5] int labels: shape, colour, position, size (of the first object), count index."""
    return np.stack([sc[:, 1], sc[:, 2], sc[:, 3], sc[:, 4], sc[:, 0] - 1], 1)


def load_dataset():
    p = os.path.join(WORK, "data.npz")
    if not os.path.exists(p):
        t0 = time.time()
        imgs, sc = generate_dataset()
        np.savez(p, imgs=imgs, scenes=sc)
        print(f"dataset generated in {time.time() - t0:.1f}s")
    z = np.load(p)
    return z["imgs"], z["scenes"]


# ----------------------------------------------------------------------------------------------
# Captions and tokenizer
# ----------------------------------------------------------------------------------------------
SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>"]
WORDS = ["a", "an", "small", "big", "large"] + COLOURS + SHAPES + ["shape"] + \
        ["on", "the", "left", "right", "at", "top", "bottom", "in", "center", "and"]
VOCAB = {w: i for i, w in enumerate(SPECIALS + WORDS)}
SEQ_LEN = 16
PAD, BOS, EOS, UNK = 0, 1, 2, 3


def _article(next_word):
    return "an" if next_word[0] in "aeiou" else "a"


def object_phrase(shape, colour, size, rng, aug=True, pos=None, keep_size=True):
    words = []
    if size is not None and keep_size:
        words.append(size)
    if colour is not None:
        words.append(colour)
    words.append(shape if shape is not None else "shape")
    p = [_article(words[0])] + words
    if pos is not None:
        p += POS_PHRASE[pos].split()
    return p


def caption_for(row, rng, aug=True):
    """Caption for a scene row. With aug: size/position sometimes omitted, 'big'->'large',
    colour or shape word sometimes dropped (shape -> 'shape')."""
    def obj(sh, co, po, si, single):
        shape = SHAPES[sh]
        colour = COLOURS[co]
        size = None
        pos = POSITIONS[po]
        if single:
            size = {"small": "small", "large": "big"}[SIZES[si]]
            if aug:
                if rng.random() >= 0.7:
                    size = None
                elif size == "big" and rng.random() < 0.3:
                    size = "large"
                if rng.random() >= 0.8:
                    pos = None
        if aug:
            r = rng.random()
            if r < 0.1:
                colour = None
            elif r < 0.2:
                shape = None
        return object_phrase(shape, colour, size, rng, pos=pos)

    if row[0] == 1:
        words = obj(row[1], row[2], row[3], row[4], True)
    else:
        a = obj(row[1], row[2], row[3], 1, False)
        b = obj(row[5], row[6], row[7], 1, False)
        if aug and rng.random() < 0.5:
            a, b = b, a
        words = a + ["and"] + b
    return " ".join(words)


def tokenize(text):
    ids = [BOS] + [VOCAB.get(w, UNK) for w in text.lower().split()][: SEQ_LEN - 2] + [EOS]
    return ids + [PAD] * (SEQ_LEN - len(ids))


def tokenizer_json():
    return {
        "version": "1.0",
        "truncation": {"direction": "Right", "max_length": SEQ_LEN, "strategy": "LongestFirst", "stride": 0},
        "padding": {"strategy": {"Fixed": SEQ_LEN}, "direction": "Right", "pad_to_multiple_of": None,
                    "pad_id": PAD, "pad_type_id": 0, "pad_token": "<pad>"},
        "added_tokens": [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for i, t in enumerate(SPECIALS)],
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "WhitespaceSplit"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "<eos>", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "<eos>", "type_id": 0}}],
            "special_tokens": {
                "<bos>": {"id": "<bos>", "ids": [BOS], "tokens": ["<bos>"]},
                "<eos>": {"id": "<eos>", "ids": [EOS], "tokens": ["<eos>"]},
            },
        },
        "decoder": None,
        "model": {"type": "WordLevel", "vocab": VOCAB, "unk_token": "<unk>"},
    }


# ----------------------------------------------------------------------------------------------
# Noise schedule (SD scaled_linear)
# ----------------------------------------------------------------------------------------------
def alphas_cumprod():
    betas = np.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=np.float64) ** 2
    return np.cumprod(1.0 - betas)


# ----------------------------------------------------------------------------------------------
# Networks
# ----------------------------------------------------------------------------------------------
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def setup_torch(seed):
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    torch.manual_seed(seed)


def timestep_embedding(t, dim):
    """diffusers-style sinusoidal embedding with flip_sin_to_cos=True, freq_shift=0."""
    half = dim // 2
    exponent = -math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half
    args = t[:, None].float() * torch.exp(exponent)[None, :]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def GN(c):
    return nn.GroupNorm(8, c)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, tdim=None):
        super().__init__()
        self.n1 = GN(cin)
        self.c1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.t = nn.Linear(tdim, cout) if tdim else None
        self.n2 = GN(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, temb=None):
        h = self.c1(F.silu(self.n1(x)))
        if self.t is not None:
            h = h + self.t(F.silu(temb))[:, :, None, None]
        h = self.c2(F.silu(self.n2(h)))
        return self.skip(x) + h


# ---------------- VAE ----------------
class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.ModuleList([
            nn.Conv2d(3, 16, 3, padding=1), ResBlock(16, 16), nn.Conv2d(16, 16, 3, stride=2, padding=1),
            ResBlock(16, 32), nn.Conv2d(32, 32, 3, stride=2, padding=1), ResBlock(32, 64), ResBlock(64, 64),
        ])
        self.norm = GN(64)
        self.out = nn.Conv2d(64, 8, 3, padding=1)

    def forward(self, x):
        for m in self.net:
            x = m(x)
        return self.out(F.silu(self.norm(x)))  # mean || logvar


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.cin = nn.Conv2d(4, 64, 3, padding=1)
        self.r1 = ResBlock(64, 64)
        self.r2 = ResBlock(64, 64)
        self.u1 = nn.Conv2d(64, 32, 3, padding=1)
        self.r3 = ResBlock(32, 32)
        self.u2 = nn.Conv2d(32, 16, 3, padding=1)
        self.r4 = ResBlock(16, 16)
        self.norm = GN(16)
        self.out = nn.Conv2d(16, 3, 3, padding=1)

    def forward(self, z):
        h = self.r2(self.r1(self.cin(z)))
        h = self.r3(self.u1(F.interpolate(h, scale_factor=2.0, mode="nearest")))
        h = self.r4(self.u2(F.interpolate(h, scale_factor=2.0, mode="nearest")))
        return self.out(F.silu(self.norm(h)))


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = Encoder()
        self.dec = Decoder()


class VAEEncoderExport(nn.Module):
    def __init__(self, enc):
        super().__init__()
        self.enc = enc

    def forward(self, sample):
        return self.enc(sample)[:, :4]


# ---------------- attention ----------------
def attention(q, k, v, heads):
    B, N, C = q.shape
    d = C // heads
    q = q.reshape(B, N, heads, d).transpose(1, 2)
    k = k.reshape(B, -1, heads, d).transpose(1, 2)
    v = v.reshape(B, -1, heads, d).transpose(1, 2)
    w = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * (d ** -0.5), dim=-1)
    return torch.matmul(w, v).transpose(1, 2).reshape(B, N, C)


class Attn(nn.Module):
    def __init__(self, dim, ctx_dim, heads):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(ctx_dim, dim, bias=False)
        self.v = nn.Linear(ctx_dim, dim, bias=False)
        self.o = nn.Linear(dim, dim)

    def forward(self, x, ctx=None):
        ctx = x if ctx is None else ctx
        return self.o(attention(self.q(x), self.k(ctx), self.v(ctx), self.heads))


class MLP(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.a = nn.Linear(dim, hidden)
        self.b = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.b(F.gelu(self.a(x)))


# ---------------- text encoder ----------------
class TextEncoder(nn.Module):
    def __init__(self, vocab=len(VOCAB), dim=64, layers=2, heads=4):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(torch.randn(SEQ_LEN, dim) * 0.02)
        self.layers = nn.ModuleList()
        for _ in range(layers):
            self.layers.append(nn.ModuleDict({
                "ln1": nn.LayerNorm(dim), "attn": Attn(dim, dim, heads), "ln2": nn.LayerNorm(dim),
                "mlp": MLP(dim, dim * 4)}))
        self.ln = nn.LayerNorm(dim)

    def forward(self, input_ids):
        ids = input_ids.long()
        x = self.tok(ids) + self.pos[: ids.shape[1]][None]
        for l in self.layers:
            x = x + l["attn"](l["ln1"](x))
            x = x + l["mlp"](l["ln2"](x))
        return self.ln(x)


# ---------------- UNet ----------------
class SpatialTransformer(nn.Module):
    def __init__(self, ch, ctx_dim=64):
        super().__init__()
        heads = ch // 16
        self.norm = GN(ch)
        self.pin = nn.Conv2d(ch, ch, 1)
        self.ln1 = nn.LayerNorm(ch)
        self.a1 = Attn(ch, ch, heads)
        self.ln2 = nn.LayerNorm(ch)
        self.a2 = Attn(ch, ctx_dim, heads)
        self.ln3 = nn.LayerNorm(ch)
        self.mlp = MLP(ch, ch * 4)
        self.pout = nn.Conv2d(ch, ch, 1)

    def forward(self, x, ctx):
        B, C, H, W = x.shape
        h = self.pin(self.norm(x))
        h = h.reshape(B, C, H * W).transpose(1, 2)
        h = h + self.a1(self.ln1(h))
        h = h + self.a2(self.ln2(h), ctx)
        h = h + self.mlp(self.ln3(h))
        h = h.transpose(1, 2).reshape(B, C, H, W)
        return x + self.pout(h)


class UNet(nn.Module):
    def __init__(self, ch=(48, 96, 128), tdim=192):
        super().__init__()
        c0, c1, c2 = ch
        self.c0 = c0
        self.temb = nn.Sequential(nn.Linear(c0, tdim), nn.SiLU(), nn.Linear(tdim, tdim))
        self.cin = nn.Conv2d(4, c0, 3, padding=1)
        self.d0r = ResBlock(c0, c0, tdim); self.d0t = SpatialTransformer(c0)
        self.down0 = nn.Conv2d(c0, c0, 3, stride=2, padding=1)
        self.d1r = ResBlock(c0, c1, tdim); self.d1t = SpatialTransformer(c1)
        self.down1 = nn.Conv2d(c1, c1, 3, stride=2, padding=1)
        self.d2r = ResBlock(c1, c2, tdim)
        self.m1 = ResBlock(c2, c2, tdim); self.mt = SpatialTransformer(c2); self.m2 = ResBlock(c2, c2, tdim)
        self.u2r = ResBlock(c2 + c2, c2, tdim)
        self.up2 = nn.Conv2d(c2, c2, 3, padding=1)
        self.u1r = ResBlock(c2 + c1, c1, tdim); self.u1t = SpatialTransformer(c1)
        self.up1 = nn.Conv2d(c1, c1, 3, padding=1)
        self.u0r = ResBlock(c1 + c0, c0, tdim); self.u0t = SpatialTransformer(c0)
        self.nout = GN(c0)
        self.cout = nn.Conv2d(c0, 4, 3, padding=1)
        nn.init.zeros_(self.cout.weight)
        nn.init.zeros_(self.cout.bias)

    def forward(self, sample, timestep, encoder_hidden_states):
        B = sample.shape[0]
        t = timestep.reshape(-1).float().expand(B)
        temb = self.temb(timestep_embedding(t, self.c0))
        ctx = encoder_hidden_states
        h = self.cin(sample)
        s0 = self.d0t(self.d0r(h, temb), ctx)
        h = self.down0(s0)
        s1 = self.d1t(self.d1r(h, temb), ctx)
        h = self.down1(s1)
        s2 = self.d2r(h, temb)
        h = self.m2(self.mt(self.m1(s2, temb), ctx), temb)
        h = self.u2r(torch.cat([h, s2], 1), temb)
        h = self.up2(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = self.u1t(self.u1r(torch.cat([h, s1], 1), temb), ctx)
        h = self.up1(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = self.u0t(self.u0r(torch.cat([h, s0], 1), temb), ctx)
        return self.cout(F.silu(self.nout(h)))


# ---------------- clean-image attribute classifier ----------------
class AttrClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(3, 32, 3, padding=1), nn.Conv2d(32, 64, 3, padding=1),
                                    nn.Conv2d(64, 64, 3, padding=1), nn.Conv2d(64, 128, 3, padding=1),
                                    nn.Conv2d(128, 128, 3, padding=1)])
        self.fc1 = nn.Linear(128 * 2 * 2, 256)
        self.fc2 = nn.Linear(256, NUM_LOGITS)

    def forward(self, sample):
        h = sample
        for i, c in enumerate(self.convs):
            h = F.silu(c(h))
            if i < 4:
                h = F.max_pool2d(h, 2)
        h = h.reshape(h.shape[0], -1)
        return self.fc2(F.silu(self.fc1(h)))


# ---------------- noisy-latent classifier (MLP, explicit backward) ----------------
def dsilu(z):
    s = torch.sigmoid(z)
    return s * (1.0 + z * (1.0 - s))


class NoisyLatentClassifier(nn.Module):
    """MLP on the flattened scaled noisy latent x_t [B,4,8,8] with per-layer additive time embedding.
    Its input gradient is written out as explicit forward ops (grad_forward) so it can be exported."""

    def __init__(self, hidden=512, layers=3, tdim=64):
        super().__init__()
        self.tdim = tdim
        self.hidden = hidden
        self.nl = layers
        self.tmlp1 = nn.Linear(tdim, 256)
        self.tmlp2 = nn.Linear(256, hidden * layers)
        dims = [256] + [hidden] * layers
        self.lin = nn.ModuleList([nn.Linear(dims[i], dims[i + 1]) for i in range(layers)])
        self.head = nn.Linear(hidden, NUM_LOGITS)

    def _tb(self, sample, timestep):
        B = sample.shape[0]
        t = timestep.reshape(-1).float().expand(B)
        te = self.tmlp2(F.silu(self.tmlp1(timestep_embedding(t, self.tdim))))
        return te

    def forward(self, sample, timestep):
        B = sample.shape[0]
        te = self._tb(sample, timestep)
        h = sample.reshape(B, 256)
        for i, l in enumerate(self.lin):
            h = F.silu(l(h) + te[:, i * self.hidden:(i + 1) * self.hidden])
        return self.head(h)

    def grad_forward(self, sample, timestep, weights):
        """Returns (logits, d/d sample sum_bj weights[b,j] * log_softmax_per_head(logits)[b,j])."""
        B = sample.shape[0]
        te = self._tb(sample, timestep)
        h = sample.reshape(B, 256)
        pres = []
        for i, l in enumerate(self.lin):
            p = l(h) + te[:, i * self.hidden:(i + 1) * self.hidden]
            pres.append(p)
            h = F.silu(p)
        logits = self.head(h)
        parts = []
        for a, b in HEAD_SLICES:
            w = weights[:, a:b]
            sm = torch.softmax(logits[:, a:b], dim=1)
            parts.append(w - sm * w.sum(dim=1, keepdim=True))
        g = torch.cat(parts, 1)                     # dJ/dlogits
        g = torch.matmul(g, self.head.weight)        # dJ/dh_last
        for i in range(self.nl - 1, -1, -1):
            g = g * dsilu(pres[i])
            g = torch.matmul(g, self.lin[i].weight)
        return logits, g.reshape(sample.shape)


class NoisyGradExport(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, sample, timestep, weights):
        return self.m.grad_forward(sample, timestep, weights)


def per_head_ce(logits, labels):
    loss = 0.0
    for k, (a, b) in enumerate(HEAD_SLICES):
        loss = loss + F.cross_entropy(logits[:, a:b], labels[:, k])
    return loss


def per_head_acc(logits, labels):
    return [float((logits[:, a:b].argmax(1) == labels[:, k]).float().mean()) for k, (a, b) in enumerate(HEAD_SLICES)]


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def imgs_to_tensor(u8):
    return torch.from_numpy(u8).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def cosine_lr(step, total, base, warmup, floor=0.05):
    if step < warmup:
        return base * (step + 1) / warmup
    p = (step - warmup) / max(1, total - warmup)
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, p))))


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
