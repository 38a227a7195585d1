"""Convert MediaPipe's short-range BlazeFace face detector into tic's assets (``tic.faces``).

Source: the PyPI wheel ``mediapipe==0.10.14`` (Apache-2.0; ``pip download --no-deps
mediapipe==0.10.14``; newer wheels no longer carry the models), member
``mediapipe/modules/face_detection/face_detection_short_range.tflite``, read as an archive (the
wheel is never imported). The TFLite flatbuffer is parsed with the pure-Python ``tflite`` package
(``pip install tflite``; only this script needs it): its float16 weights (dequantized in the
graph) are written, in torch layout (OIHW; depthwise kernels as ``(C, 1, 3, 3)``), as
``blazeface_short_range.safetensors`` into ``--out`` (default ``src/tic/assets/backbones``).

``--check`` also runs the original file with the TFLite interpreter (``pip install
ai-edge-litert``) on fixed random and gray inputs and prints the largest difference of the scores
and boxes from ``tic.faces.BlazeFace``'s.

Usage::

    python scripts/convert_blazeface.py mediapipe-0.10.14-cp311-cp311-manylinux_2_17_x86_64.whl \\
        [--check]
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from tic.faces import BLOCKS, INPUT_SIZE, BlazeFace

MEMBER = "mediapipe/modules/face_detection/face_detection_short_range.tflite"


def read_tflite_weights(raw: bytes) -> dict[str, np.ndarray]:
    """Every constant tensor of the flatbuffer with a buffer, by name, float16 -> float32."""
    import tflite  # only the conversion needs it

    model = tflite.Model.GetRootAsModel(raw, 0)
    graph = model.Subgraphs(0)
    types = {tflite.TensorType.FLOAT16: np.float16, tflite.TensorType.FLOAT32: np.float32}
    out = {}
    for i in range(graph.TensorsLength()):
        t = graph.Tensors(i)
        data = model.Buffers(t.Buffer()).DataAsNumpy()
        if t.Type() not in types or isinstance(data, int) or data.size == 0:
            continue
        shape = t.ShapeAsNumpy().tolist()
        out[t.Name().decode()] = np.frombuffer(data.tobytes(), types[t.Type()]).reshape(shape)
    return out


def torch_state(weights: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """The TFLite layers (Keras names) -> ``BlazeFace``'s keys, in torch layout."""

    def find(layer: str, part: str) -> np.ndarray:
        hits = [k for k in weights if k.split("/")[-2:] == [layer, part]]
        if len(hits) != 1:
            raise SystemExit(f"{layer}/{part}: {len(hits)} tensors match")
        return weights[hits[0]]

    def conv(layer: str, depthwise: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        k = torch.from_numpy(find(layer, "Kernel").astype(np.float32))
        k = k.permute(3, 0, 1, 2) if depthwise else k.permute(0, 3, 1, 2)  # -> OIHW / (C,1,H,W)
        return k.contiguous(), torch.from_numpy(find(layer, "Bias").astype(np.float32))

    layers = {"stem": ("conv2d", False)}
    for i in range(len(BLOCKS)):
        layers[f"blocks.{i}.dw"] = ("depthwise_conv2d" + (f"_{i}" if i else ""), True)
        layers[f"blocks.{i}.pw"] = (f"conv2d_{i + 1}", False)
    layers |= {"cls_16": ("classificator_8", False), "cls_8": ("classificator_16", False),
               "reg_16": ("regressor_8", False), "reg_8": ("regressor_16", False)}
    state = {}
    for key, (layer, depthwise) in layers.items():
        state[f"{key}.weight"], state[f"{key}.bias"] = conv(layer, depthwise)
    return state


def check(tflite_path: Path, net: BlazeFace) -> None:
    """Largest differences of ``net`` from the TFLite interpreter on three inputs."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(tflite_path))
    it.allocate_tensors()
    out = {d["name"]: d["index"] for d in it.get_output_details()}
    g = torch.Generator().manual_seed(0)
    gray = torch.rand(1, 1, INPUT_SIZE, INPUT_SIZE, generator=g) * 2 - 1
    for name, x in (("random", torch.rand(1, 3, INPUT_SIZE, INPUT_SIZE, generator=g) * 2 - 1),
                    ("gray", gray.expand(-1, 3, -1, -1)), ("flat", torch.zeros(1, 3, 128, 128))):
        it.set_tensor(it.get_input_details()[0]["index"], x.permute(0, 2, 3, 1).numpy().copy())
        it.invoke()
        ref_logit = torch.from_numpy(it.get_tensor(out["classificators"]))[0, :, 0]
        ref_raw = torch.from_numpy(it.get_tensor(out["regressors"]))[0, :, :4]
        with torch.no_grad():
            logit, box = net(x)
        raw = torch.cat([(box[0, :, :2] - net.anchors) * INPUT_SIZE, box[0, :, 2:] * INPUT_SIZE], 1)
        print(f"{name}: score logits differ by at most {(logit[0] - ref_logit).abs().max():.2e} "
              f"(range {ref_logit.abs().max():.1f}), boxes by {(raw - ref_raw).abs().max():.2e} "
              f"pixels of 128")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("wheel", type=Path)
    p.add_argument("--out", type=Path, default=Path("src/tic/assets/backbones"))
    p.add_argument("--check", action="store_true")
    args = p.parse_args(argv)
    with zipfile.ZipFile(args.wheel) as z:
        raw = z.read(MEMBER)
    state = torch_state(read_tflite_weights(raw))
    net = BlazeFace()
    net.load_state_dict(state)  # strict: every key matched
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "blazeface_short_range.safetensors"
    save_file({k: v.half() for k, v in state.items()}, str(path),
              metadata={"source": MEMBER, "sha256": hashlib.sha256(raw).hexdigest(),
                        "dtype": "float16"})
    print(f"wrote {path} ({len(state)} tensors, {path.stat().st_size / 1e6:.2f} MB; the "
          "weights are float16 in the original file, so nothing is lost)")
    if args.check:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d) / "model.tflite"
            tmp.write_bytes(raw)
            check(tmp, net.eval())


if __name__ == "__main__":
    main()
