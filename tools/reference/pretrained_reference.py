"""What SMP loads for `encoder_weights="imagenet"`, from files served on 127.0.0.1.

Writes, for each encoder, an SMP-hub repository in the hub's layout (`config.json` with ImageNet
statistics, `model.safetensors` with the encoder's state dict in synthetic values as
`smp_reference.synthetic_tensor` makes them, plus the ImageNet classifier SMP drops), or for a
`tu-` encoder timm's repository at `main` (timm's classification checkpoint, which timm renames
and trims into the features model SMP wraps), serves it
the way Hugging Face does (a 302 to the blob with X-Linked-Etag/X-Linked-Size, X-Repo-Commit),
points HF_ENDPOINT at it and builds the SMP model with `encoder_weights="imagenet"`. The fixture
holds the sha256 of every encoder tensor SMP ended with (float32, little endian),
`get_preprocessing_params`, and the keys and shapes of the served tensors SMP's encoder has no
place for (`served_extra`); `crates/models/tests/pretrained.rs` serves the same tensors from its
own hub and must load the same bytes.

    /work/venv/py/bin/python tools/reference/pretrained_reference.py crates/models/tests/fixtures/pretrained
"""

import hashlib
import http.server
import json
import os
import sys
import tempfile
import threading
from pathlib import Path

import torch
from safetensors.torch import save_file

CASES = [
    ("unetplusplus", "efficientnet-b5", "_fc", 2048),
    ("segformer", "mit_b0", "head", 256),
    ("upernet", "tu-convnext_tiny", None, None),
]
CONFIG = {"input_space": "RGB", "input_range": [0, 1], "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


def serve(root: Path) -> str:
    class Hub(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, body: bool):
            if self.path.startswith("/blobs/"):
                path = root / "blobs" / self.path[len("/blobs/"):]
            else:
                path = root / self.path.lstrip("/").replace("/resolve/", "/", 1)
            if not path.is_file():
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data = path.read_bytes()
            if path.name == "model.safetensors":
                sha = hashlib.sha256(data).hexdigest()
                (root / "blobs").mkdir(exist_ok=True)
                (root / "blobs" / sha).write_bytes(data)
                self.send_response(302)
                self.send_header("Location", f"/blobs/{sha}")
                self.send_header("X-Linked-Etag", f'"{sha}"')
                self.send_header("ETag", f'"{sha}"')
                self.send_header("X-Linked-Size", str(len(data)))
                self.send_header("X-Repo-Commit", "0" * 40)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            self.send_response(200)
            self.send_header("ETag", f'"{blob}"')
            self.send_header("X-Repo-Commit", "0" * 40)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)

        def do_HEAD(self):
            self.answer(False)

        def do_GET(self):
            self.answer(True)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def main(out_dir: str) -> None:
    work = Path(tempfile.mkdtemp())
    os.environ["HF_ENDPOINT"] = serve(work / "hub")
    os.environ["HF_HOME"] = str(work / "hf-home")
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    # After HF_ENDPOINT: huggingface_hub reads it when first imported (smp_reference imports SMP).
    import segmentation_models_pytorch as smp
    from smp_reference import synthetic_tensor
    from segmentation_models_pytorch.encoders import encoders, get_preprocessing_params

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for arch, name, classifier, features in CASES:
        if name.startswith("tu-"):
            import timm

            timm_name = name[3:]
            repo_id, revision = timm.models.get_pretrained_cfg(timm_name).hf_hub_id, "main"
            config = {"architecture": timm_name, "pretrained_cfg": {"mean": CONFIG["mean"], "std": CONFIG["std"]}}
            served = timm.create_model(timm_name, pretrained=False).state_dict()
        else:
            settings = encoders[name]["pretrained_settings"]["imagenet"]
            repo_id, revision, config = settings["repo_id"], settings["revision"], CONFIG
            served = dict(smp.create_model(arch, encoder_name=name, encoder_weights=None).encoder.state_dict())
            served[f"{classifier}.weight"] = torch.zeros(1000, features)
            served[f"{classifier}.bias"] = torch.zeros(1000)
        repo = work / "hub" / repo_id / revision
        repo.mkdir(parents=True)
        (repo / "config.json").write_text(json.dumps(config))
        tensors = {
            key: value.clone() if key.endswith("num_batches_tracked") else synthetic_tensor(key, tuple(value.shape))
            for key, value in served.items()
        }
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(repo / "model.safetensors"))

        model = smp.create_model(arch, encoder_name=name, encoder_weights="imagenet")
        loaded = {
            key: hashlib.sha256(value.detach().to(torch.float32).numpy().astype("<f4").tobytes()).hexdigest()
            for key, value in model.encoder.state_dict().items()
            if not key.endswith("num_batches_tracked")
        }
        own = set(model.encoder.state_dict())
        # What the served file holds beyond the encoder's keys (timm's under `model.`, renamed).
        placed = {key.removeprefix("model.").replace("stem_", "stem.").replace("stages_", "stages.") for key in own}
        extra = {
            key: list(value.shape)
            for key, value in served.items()
            if key not in own and key not in placed and not key.endswith("num_batches_tracked")
        }
        fixture = {
            "encoder": name,
            "smp": smp.__version__,
            "repo_id": repo_id,
            "revision": revision,
            "preprocessing": get_preprocessing_params(name, "imagenet"),
            "served_extra": extra,
            "tensors": loaded,
        }
        path = out / f"{name}.json"
        path.write_text(json.dumps(fixture, indent=1, sort_keys=True) + "\n")
        print(f"{path}: {len(loaded)} encoder tensors as SMP {smp.__version__} loaded them")


if __name__ == "__main__":
    main(sys.argv[1])
