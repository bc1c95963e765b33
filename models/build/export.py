"""Exports the diffusers-ONNX-layout packs models/shapes-32 (eps) and models/shapes-32-flow (rectified
flow), with fp16-stored weights (+Cast to fp32), config files, tokenizer files and golden.json files."""
import json, os, shutil, sys
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto
import torch
import common as c
import pack

ROOT = os.path.dirname(c.HERE)
OUT = os.path.join(ROOT, "shapes-32")
OUT_FLOW = os.path.join(ROOT, "shapes-32-flow")
OPSET = 17


def fp16_store(path):
    """Stores every float32 initializer whose values are exactly representable in fp16 as fp16, with a
    Cast back to float32 in front (ORT constant-folds it at load). Values are unchanged bit-for-bit."""
    m = onnx.load(path)
    g = m.graph
    new_inits, casts, n_conv = [], [], 0
    for init in g.initializer:
        if init.data_type == TensorProto.FLOAT:
            a = numpy_helper.to_array(init)
            if a.size >= 16 and np.array_equal(a.astype(np.float16).astype(np.float32), a):
                h = numpy_helper.from_array(a.astype(np.float16), init.name + "__fp16")
                new_inits.append(h)
                casts.append(helper.make_node("Cast", [h.name], [init.name], to=TensorProto.FLOAT,
                                              name=init.name + "__cast"))
                n_conv += 1
                continue
        new_inits.append(init)
    del g.initializer[:]
    g.initializer.extend(new_inits)
    nodes = list(g.node)
    del g.node[:]
    g.node.extend(casts + nodes)
    m = onnx.shape_inference.infer_shapes(m)
    onnx.checker.check_model(m)
    onnx.save(m, path)
    return n_conv


def export(module, args, path, inputs, outputs, axes, fixed_out_dims={}):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(module, args, path, input_names=inputs, output_names=outputs, dynamic_axes=axes,
                          opset_version=OPSET, do_constant_folding=True)
    n = fp16_store(path)
    m = onnx.load(path)
    for o in m.graph.output:  # torch names some static dims symbolically (LayerNorm output): pin them
        for d, s in zip(o.type.tensor_type.shape.dim, fixed_out_dims.get(o.name, [])):
            if s is not None:
                d.Clear(); d.dim_value = s
    onnx.checker.check_model(m)
    onnx.save(m, path)
    io = {"inputs": [(i.name, i.type.tensor_type.elem_type, [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]) for i in m.graph.input],
          "outputs": [(o.name, o.type.tensor_type.elem_type, [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]) for o in m.graph.output]}
    print(f"exported {os.path.relpath(path, ROOT)}: {os.path.getsize(path) / 1e6:.2f} MB, {len(m.graph.node)} nodes, "
          f"{n} fp16 initializers, io {io}", flush=True)


def wj(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def tensor(x, dtype="float32"):
    a = x.detach().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if dtype == "float32":
        data = [float("%.7g" % v) for v in a.astype(np.float32).reshape(-1)]
    else:
        data = [int(v) for v in a.reshape(-1)]
    return {"type": dtype, "dims": list(a.shape), "data": data}


class Wrap(torch.nn.Module):
    def __init__(self, m, fn="forward"):
        super().__init__(); self.m = m; self.fn = fn

    def forward(self, *a):
        return getattr(self.m, self.fn)(*a)


HEADS_CFG = [{"name": n, "offset": a, "size": b - a, "labels": l} for (n, l), (a, b) in zip(c.HEADS, c.HEAD_SLICES)]
LABEL_DOC = ("Attributes of the first object of the scene (the only one, or in two-object scenes the left "
             "one / the top one); size is 'medium' for every object of a two-object scene; count is one|two. "
             "Take argmax (or softmax) within each head's slice of the 19 logits.")


def model_index(scheduler_cls, extras):
    d = {"_class_name": "OnnxStableDiffusionPipeline", "_diffusers_version": "0.27.2",
         "feature_extractor": [None, None], "requires_safety_checker": False, "safety_checker": [None, None],
         "scheduler": ["diffusers", scheduler_cls], "text_encoder": ["diffusers", "OnnxRuntimeModel"],
         "tokenizer": ["transformers", "PreTrainedTokenizerFast"], "unet": ["diffusers", "OnnxRuntimeModel"],
         "vae_decoder": ["diffusers", "OnnxRuntimeModel"], "vae_encoder": ["diffusers", "OnnxRuntimeModel"]}
    if extras:
        d["_diffgraph_extras"] = extras
    return d


def write_common(out, te, unet, mode, scale, vae_ft):
    # tokenizer
    wj(f"{out}/tokenizer/tokenizer.json", c.tokenizer_json())
    wj(f"{out}/tokenizer/tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": c.SEQ_LEN, "bos_token": "<bos>",
        "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>", "padding_side": "right",
        "model_input_names": ["input_ids"], "clean_up_tokenization_spaces": False})
    wj(f"{out}/tokenizer/special_tokens_map.json", {"bos_token": "<bos>", "eos_token": "<eos>",
                                                     "pad_token": "<pad>", "unk_token": "<unk>"})
    # text encoder
    ids = torch.tensor([c.tokenize("a red circle on the left"), c.tokenize("")], dtype=torch.int32)
    ids3 = torch.tensor([c.tokenize("a blue square")] * 3, dtype=torch.int32)  # export dummies use batch 3,
    export(te, (ids3,), f"{out}/text_encoder/model.onnx", ["input_ids"], ["last_hidden_state"],
           {"input_ids": {0: "batch", 1: "sequence"}, "last_hidden_state": {0: "batch", 1: "sequence"}},
           {"last_hidden_state": [None, None, 64]})
    wj(f"{out}/text_encoder/config.json", {
        "_class_name": "DiffgraphWordLevelTextEncoder", "architectures": ["PreLNTransformerEncoder"],
        "hidden_size": 64, "intermediate_size": 256, "max_position_embeddings": c.SEQ_LEN,
        "num_attention_heads": 4, "num_hidden_layers": 2, "vocab_size": len(c.VOCAB), "pad_token_id": c.PAD,
        "bos_token_id": c.BOS, "eos_token_id": c.EOS, "input_ids_dtype": "int32", "outputs": ["last_hidden_state"],
        "params": c.n_params(te)})
    # unet
    x = torch.randn(3, 4, 8, 8)  # goldens use batch 1-2, so baked-in batch sizes would be caught
    t = torch.tensor([999.0, 500.0, 1.0])
    ctx = torch.randn(3, c.SEQ_LEN, 64)
    export(unet, (x, t, ctx), f"{out}/unet/model.onnx", ["sample", "timestep", "encoder_hidden_states"], ["out_sample"],
           {"sample": {0: "batch", 2: "height", 3: "width"}, "timestep": {0: "steps"},
            "encoder_hidden_states": {0: "batch", 1: "sequence"}, "out_sample": {0: "batch", 2: "height", 3: "width"}})
    ucfg = {"_class_name": "UNet2DConditionModel", "in_channels": 4, "out_channels": 4, "sample_size": 8,
            "cross_attention_dim": 64, "block_out_channels": [48, 96, 128], "layers_per_block": 1,
            "attention_head_dim": 16, "flip_sin_to_cos": True, "freq_shift": 0, "num_train_timesteps": 1000,
            "timestep_input": "float32, rank 1, shape [batch] or [1] (broadcast)", "params": c.n_params(unet)}
    if mode == "eps":
        ucfg.update({"prediction_type": "epsilon", "timestep_range": [0, 999],
                     "noise_schedule": {"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012}})
    else:
        ucfg.update({"prediction_type": "flow", "flow_type": "rectified_flow",
                     "flow_definition": "x_s = (1 - s) * x0 + s * noise; out_sample = v = noise - x0; timestep = 1000 * s (s in [0,1], s=1 is pure noise)",
                     "timestep_range": [0, 1000]})
    wj(f"{out}/unet/config.json", ucfg)
    # vae config files (the onnx files are exported once and copied)
    for part in ("vae_encoder", "vae_decoder"):
        wj(f"{out}/{part}/config.json", {
            "_class_name": "AutoencoderKL", "in_channels": 3, "out_channels": 3, "latent_channels": 4,
            "sample_size": 32, "block_out_channels": [16, 32, 64], "downsample_factor": 4,
            "scaling_factor": scale, "decoder_finetuned": vae_ft,
            "note": ("latent_sample is the deterministic posterior mean, unscaled (multiply by scaling_factor)"
                     if part == "vae_encoder" else "latent_sample is unscaled: divide by scaling_factor first; "
                     "output sample is approximately in [-1,1] (clamp)")})
    if mode == "eps":
        sched = {"_class_name": "DDIMScheduler", "_diffusers_version": "0.27.2", "beta_start": 0.00085,
                 "beta_end": 0.012, "beta_schedule": "scaled_linear", "clip_sample": False,
                 "num_train_timesteps": 1000, "prediction_type": "epsilon", "set_alpha_to_one": False,
                 "steps_offset": 1, "timestep_spacing": "trailing", "trained_betas": None}
    else:
        sched = {"_class_name": "FlowMatchEulerDiscreteScheduler", "_diffusers_version": "0.30.0",
                 "num_train_timesteps": 1000, "shift": 1.0, "use_dynamic_shifting": False}
    wj(f"{out}/scheduler/scheduler_config.json", sched)
    # goldens for text encoder / unet
    g = {}
    with torch.no_grad():
        hs = te(ids)
        g["text_encoder"] = {"file": "text_encoder/model.onnx", "inputs": {"input_ids": tensor(ids, "int32")},
                             "outputs": {"last_hidden_state": tensor(hs)}}
        torch.manual_seed(7)
        xs = torch.randn(2, 4, 8, 8)
        ts = torch.tensor([999.0, 321.5] if mode == "eps" else [1000.0, 321.5])
        g["unet"] = {"file": "unet/model.onnx", "inputs": {"sample": tensor(xs), "timestep": tensor(ts),
                     "encoder_hidden_states": tensor(hs)}, "outputs": {"out_sample": tensor(unet(xs, ts, hs))}}
        t1 = torch.tensor([640.0])
        g["unet_timestep_broadcast"] = {"file": "unet/model.onnx", "inputs": {"sample": tensor(xs), "timestep": tensor(t1),
                     "encoder_hidden_states": tensor(hs)}, "outputs": {"out_sample": tensor(unet(xs, t1, hs))}}
    return g


def main():
    torch.manual_seed(0)
    scale = pack.scaling_factor()
    vae, vae_ft = pack.load_vae()
    imgs, sc = c.load_dataset()
    for d in (OUT, OUT_FLOW):
        if os.path.exists(d):
            shutil.rmtree(d)
    goldens = {}
    info = {}
    for mode, out in (("eps", OUT), ("flow", OUT_FLOW)):
        te, unet, step, loss = pack.load_unet(mode)
        info[mode] = {"steps_in_checkpoint": step, "loss": loss}
        print(mode, "checkpoint step", step, "loss", loss, flush=True)
        goldens[mode] = write_common(out, te, unet, mode, scale, vae_ft)
        wj(f"{out}/model_index.json", model_index("DDIMScheduler" if mode == "eps" else "FlowMatchEulerDiscreteScheduler",
           {"classifier": "classifier", "attribute_classifier": "attribute_classifier"} if mode == "eps" else None))
    # VAE
    x = c.imgs_to_tensor(imgs[c.N_IMAGES - 3:])
    export(pack_enc := c.VAEEncoderExport(vae.enc), (x,), f"{OUT}/vae_encoder/model.onnx", ["sample"], ["latent_sample"],
           {"sample": {0: "batch", 2: "height", 3: "width"}, "latent_sample": {0: "batch", 2: "height", 3: "width"}})
    z = torch.randn(3, 4, 8, 8)
    export(vae.dec, (z,), f"{OUT}/vae_decoder/model.onnx", ["latent_sample"], ["sample"],
           {"latent_sample": {0: "batch", 2: "height", 3: "width"}, "sample": {0: "batch", 2: "height", 3: "width"}})
    for part in ("vae_encoder", "vae_decoder"):
        shutil.copy(f"{OUT}/{part}/model.onnx", f"{OUT_FLOW}/{part}/model.onnx")
    with torch.no_grad():
        x1 = x[:1]
        lat = pack_enc(x1)
        dec = vae.dec(lat)
    gv = {"vae_encoder": {"file": "vae_encoder/model.onnx", "inputs": {"sample": tensor(x1)}, "outputs": {"latent_sample": tensor(lat)}},
          "vae_decoder": {"file": "vae_decoder/model.onnx", "inputs": {"latent_sample": tensor(lat)}, "outputs": {"sample": tensor(dec)}}}
    for mode in goldens:
        goldens[mode].update(gv)
    # noisy-latent classifier + its gradient graph
    ncls = pack.load_noisy()
    xs = torch.randn(2, 4, 8, 8)
    ts = torch.tensor([100.0, 700.0])
    w = torch.zeros(2, c.NUM_LOGITS); w[0, 0] = 1; w[0, 3 + 0] = 1; w[1, 1] = 1; w[1, 3 + 2] = 1; w[1, 9 + 1] = 0.5
    export(ncls, (torch.randn(3, 4, 8, 8), torch.tensor([5.0, 50.0, 500.0])), f"{OUT}/classifier/model.onnx", ["sample", "timestep"], ["logits"],
           {"sample": {0: "batch"}, "timestep": {0: "steps"}, "logits": {0: "batch"}})
    export(c.NoisyGradExport(ncls), (torch.randn(3, 4, 8, 8), torch.tensor([5.0, 50.0, 500.0]), torch.rand(3, c.NUM_LOGITS)), f"{OUT}/classifier/grad.onnx", ["sample", "timestep", "weights"],
           ["logits", "grad"], {"sample": {0: "batch"}, "timestep": {0: "steps"}, "weights": {0: "batch"},
                                "logits": {0: "batch"}, "grad": {0: "batch"}})
    # verify explicit gradient against autograd (on the exported, fp16-rounded weights)
    xg = xs.clone().requires_grad_(True)
    lg = ncls(xg, ts)
    J = sum((w[:, a:b] * torch.log_softmax(lg[:, a:b], 1)).sum() for a, b in c.HEAD_SLICES)
    ga, = torch.autograd.grad(J, xg)
    with torch.no_grad():
        l2, ge = ncls.grad_forward(xs, ts, w)
    gdiff = float((ga - ge).abs().max())
    print("classifier grad vs autograd max abs diff", gdiff, flush=True)
    assert gdiff < 1e-4
    with torch.no_grad():
        lo = ncls(xs, ts)
    goldens["eps"]["classifier"] = {"file": "classifier/model.onnx", "inputs": {"sample": tensor(xs), "timestep": tensor(ts)},
                                    "outputs": {"logits": tensor(lo)}}
    goldens["eps"]["classifier_grad"] = {"file": "classifier/grad.onnx", "inputs": {"sample": tensor(xs), "timestep": tensor(ts),
                                         "weights": tensor(w)}, "outputs": {"logits": tensor(l2), "grad": tensor(ge)}}
    ns = json.load(open(c.WORK + "/noisy_cls_stats.json")) if os.path.exists(c.WORK + "/noisy_cls_stats.json") else {}
    wj(f"{OUT}/classifier/config.json", {
        "_class_name": "DiffgraphNoisyLatentClassifier", "num_logits": c.NUM_LOGITS, "heads": HEADS_CFG,
        "label_definition": LABEL_DOC,
        "input": "sample: scaled noisy latent x_t = sqrt(abar_t)*x0 + sqrt(1-abar_t)*noise, x0 = scaling_factor * VAE latent, "
                 "SD scaled_linear schedule (beta 0.00085..0.012, 1000 steps) [B,4,8,8] float32",
        "timestep": "float32 rank 1, [B] or [1], 0..999 (same convention as unet)",
        "for_flow_models": "x_s (rectified flow) has the same SNR as DDPM abar = (1-s)^2/((1-s)^2+s^2); feed "
                           "x_s / sqrt((1-s)^2+s^2) and the DDPM timestep with that abar",
        "grad_file": "grad.onnx",
        "grad_definition": "inputs sample, timestep, weights [B,19] -> logits [B,19] and grad [B,4,8,8] = "
                           "d/d sample of sum_b sum_j weights[b,j] * log_softmax_within_head(logits)[b,j]",
        "architecture": "MLP on flattened latent (256 -> 512 -> 512 -> 512 -> 19), SiLU, additive sinusoidal-time-MLP bias per layer",
        "params": c.n_params(ncls), "val_acc_by_timestep": ns.get("val_acc_by_t"),
        "grad_check_max_abs_diff_vs_autograd": gdiff})
    # clean-image attribute classifier
    attr = pack.load_attr()
    xa = c.imgs_to_tensor(imgs[c.N_IMAGES - 2:])
    export(attr, (c.imgs_to_tensor(imgs[c.N_IMAGES - 3:]),), f"{OUT}/attribute_classifier/model.onnx", ["sample"], ["logits"],
           {"sample": {0: "batch"}, "logits": {0: "batch"}})
    with torch.no_grad():
        la = attr(xa)
    goldens["eps"]["attribute_classifier"] = {"file": "attribute_classifier/model.onnx", "inputs": {"sample": tensor(xa)},
                                              "outputs": {"logits": tensor(la)}}
    ast = json.load(open(c.WORK + "/attr_stats.json"))
    wj(f"{OUT}/attribute_classifier/config.json", {
        "_class_name": "DiffgraphAttributeClassifier", "num_logits": c.NUM_LOGITS, "heads": HEADS_CFG,
        "label_definition": LABEL_DOC, "input": "sample: clean RGB image [B,3,32,32] float32 in [-1,1] (NCHW)",
        "architecture": "5 conv3x3 (32,64,64,128,128) + SiLU + 4 max-pools, MLP 512->256->19",
        "params": c.n_params(attr), "val_acc": ast["val_acc"]})
    for mode, out in (("eps", OUT), ("flow", OUT_FLOW)):
        wj(f"{out}/golden.json", {
            "description": "torch outputs for fixed inputs, computed with exactly the weights stored in the ONNX files "
                           "(fp16-rounded). onnxruntime should match to ~1e-5; use atol 1e-4 (2e-3 is ample).",
            "atol": 1e-4, "models": goldens[mode]})
    wj(c.WORK + "/export_info.json", info)
    print("export done", flush=True)


if __name__ == "__main__":
    main()
