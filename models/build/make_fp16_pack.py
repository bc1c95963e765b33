"""Converts the pack (default models/shapes-32) to the form `optimum-cli export onnx --fp16` writes,
float16 compute and IO, for `pnpm bench:models`. The pack as shipped already stores its weights in
float16 behind Cast nodes (float32 compute and IO: the "mixed" form), so only this form is built.

  <out>/shapes-32-fp16/   float16 weights, compute and IO

The conversion is the fixture builder's (fixtures/make_fp16_fixture.py), with Resize's float32-only
parameters kept. Output goes to models/build/work/ (not committed; rebuilt in seconds).

Run with Debian's python3-onnx:  /usr/bin/python3 models/build/make_fp16_pack.py [pack] [out]
"""
import os, shutil, sys
import numpy as np
import onnx
from onnx import numpy_helper, TensorProto

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "fixtures"))
from make_fp16_fixture import to_fp16  # noqa: E402

COMPONENTS = ["text_encoder", "unet", "vae_decoder", "vae_encoder"]
# Inputs that ONNX requires to be float32 whatever the data type (Resize's roi and scales).
FLOAT32_ONLY = {"Resize": (1, 2)}


def keep_float32_parameters(model):
    """Undoes the fp16 cast on operator parameters the ONNX spec types as float32 only."""
    g = model.graph
    names = {node.input[i] for node in g.node for i in FLOAT32_ONLY.get(node.op_type, ()) if i < len(node.input) and node.input[i]}
    for node in g.node:
        if node.op_type == "Constant" and node.output[0] in names:
            for attr in node.attribute:
                if attr.name == "value" and attr.t.data_type == TensorProto.FLOAT16:
                    attr.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(attr.t).astype(np.float32), attr.t.name))
    for init in g.initializer:
        if init.name in names and init.data_type == TensorProto.FLOAT16:
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float32), init.name))
    return model


def convert(pack, out, name, conversion):
    target = os.path.join(out, name)
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(pack, target, ignore=shutil.ignore_patterns("attribute_classifier", "classifier"))
    for component in COMPONENTS:
        path = os.path.join(target, component, "model.onnx")
        model = conversion(onnx.load(path))
        onnx.checker.check_model(model)
        onnx.save(model, path)
    print(f"wrote {target}")


def main():
    pack = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(HERE), "shapes-32")
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "work")
    convert(pack, out, "shapes-32-fp16", lambda m: keep_float32_parameters(to_fp16(m)))


if __name__ == "__main__":
    main()
