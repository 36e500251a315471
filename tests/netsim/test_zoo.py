"""Zoo models build, run at their input size, convert, and round-trip through checkpoints."""
import pytest
import torch

import netsim
from netsim import checkpoint, zoo
from netsim.errors import NetsimError


@pytest.mark.parametrize("name", ["mlp", "lenet5", "cifarnet", "vgg16", "resnet18", "resnet18-imagenet"])
def test_zoo_models_run_and_convert(name):
    torch.manual_seed(0)
    model = zoo.build(name).eval()
    x = torch.rand(2, *zoo.ZOO[name].input_shape)
    with torch.no_grad():
        assert model(x).shape[0] == 2
    amodel = netsim.convert(model, netsim.Config.uniform(), [x])
    rows = netsim.describe(amodel).rows
    assert len(rows) == len(netsim.network.target_layers(model)) and all(isinstance(r["macs"], int) for r in rows)


@pytest.mark.slow
def test_vgg16_imagenet_builds():
    model = zoo.vgg16(imagenet=True).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 224, 224)).shape == (1, 1000)


def test_resnet18_macs_match_the_architecture():
    model = zoo.resnet18().eval()
    calibration = netsim.calibrate(model, [torch.rand(1, 3, 32, 32)])
    assert calibration.macs["stem.0"] == 64 * 32 * 32 * 27
    assert calibration.macs["layer4.0.shortcut.0"] == 512 * 4 * 4 * 256


def test_checkpoint_round_trip(tmp_path):
    model = zoo.lenet5()
    path = checkpoint.save(tmp_path / "l.pt", model, "lenet5", dataset="mnist5k", test_accuracy=0.5)
    loaded = zoo.lenet5(weights=path)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))
    record = checkpoint.load(path)
    assert record.model == "lenet5" and record.metadata["test_accuracy"] == 0.5 and "torch" in record.metadata
    torch.save(model.state_dict(), tmp_path / "bare.pt")
    assert torch.equal(zoo.lenet5(weights=tmp_path / "bare.pt").fc1.weight, model.fc1.weight)
    with pytest.raises(NetsimError, match="holds a lenet5 checkpoint, not mlp"):
        zoo.mlp(weights=path)
    with pytest.raises(NetsimError, match="does not fit MLP"):
        zoo.mlp(weights=tmp_path / "bare.pt")
    with pytest.raises(NetsimError, match="not found"):
        zoo.lenet5(weights=tmp_path / "absent.pt")
    (tmp_path / "junk.pt").write_text("junk")
    with pytest.raises(NetsimError, match="not a netsim checkpoint or a torch state_dict"):
        zoo.lenet5(weights=tmp_path / "junk.pt")


def test_unknown_model():
    with pytest.raises(NetsimError, match="unknown model 'lenet'.*lenet5"):
        zoo.build("lenet")


# --- the models whose products are not all Conv2d / Linear (issue 12) ---------------------------------

NEW_MODELS = ["vit_tiny", "mobilenet", "cnn1d"]


@pytest.mark.parametrize("name", NEW_MODELS)
def test_new_models_run_convert_and_keep_the_exact_identity(name):
    """Each runs on a digit batch, and with an M*P0 multiplier (through the kernels) its converted
    model equals the exact-arithmetic converted model bit for bit (the identity, whole model)."""
    torch.manual_seed(0)
    model = zoo.build(name).eval()
    x = torch.rand(3, *zoo.ZOO[name].input_shape)
    with torch.no_grad():
        assert model(x).shape == (3, 10)
    exact = netsim.convert(model, netsim.Config.uniform(), [x], strict=True)  # every product simulated
    via_kernels = netsim.convert(model, netsim.Config.uniform(multiplier="M3P0", recode="activation"), [x],
                                 strict=True)
    with torch.no_grad():
        assert torch.equal(exact(x), via_kernels(x))
        assert not torch.equal(exact(x), model(x))  # it is the quantized model, not the float one
    rows = {row["layer"]: row for row in netsim.describe(via_kernels).rows}
    assert all(row["multiplier"] == "M3P0" for row in rows.values())
    assert {row["kind"] for row in rows.values()} >= EXPECTED_KINDS[name]


EXPECTED_KINDS = {"vit_tiny": {"conv2d", "linear", "attention"}, "mobilenet": {"conv2d", "linear"},
                  "cnn1d": {"conv1d", "linear"}}


def test_new_models_op_names():
    """The ops a user names in a config: the ViT's attention products per block, MobileNet's depthwise
    convolutions, the 1-D CNN's Conv1d layers."""
    torch.manual_seed(0)
    x = torch.rand(2, 1, 28, 28)
    vit = netsim.describe(netsim.convert(zoo.vit_tiny().eval(), netsim.Config.uniform(), [x])).rows
    names = [row["layer"] for row in vit]
    for block in range(4):
        assert {f"blocks.{block}.attn.{op}" for op in ("qkv", "qk", "av", "proj")} <= set(names)
    qk = next(row for row in vit if row["layer"] == "blocks.0.attn.qk")
    assert qk["kind"] == "attention" and qk["macs"] == 4 * 16 * 16 * 16  # heads x tokens x tokens x head width
    mobilenet = zoo.mobilenet().eval()
    rows = {row["layer"]: row for row in netsim.describe(netsim.convert(mobilenet, netsim.Config.uniform(), [x])).rows}
    depthwise = [name for name, m in mobilenet.named_modules() if isinstance(m, torch.nn.Conv2d) and m.groups > 1]
    assert len(depthwise) == 6 and set(depthwise) <= set(rows)
    # the first block's depthwise 3x3 on 16 channels of 14x14: 9 MACs per output, not 9 x 16
    assert depthwise[0] == "features.3.conv.0" and rows["features.3.conv.0"]["macs"] == 16 * 14 * 14 * 9
    cnn = netsim.describe(netsim.convert(zoo.cnn1d().eval(), netsim.Config.uniform(), [x])).rows
    assert [row["layer"] for row in cnn if row["kind"] == "conv1d"] == ["features.0", "features.4", "features.8"]
    assert next(row for row in cnn if row["layer"] == "features.0")["macs"] == 64 * 28 * 28 * 3


def test_vit_tiny_architecture():
    model = zoo.vit_tiny()
    blocks = list(model.blocks)
    assert len(blocks) == 4 and all(isinstance(b.attn, zoo.Attention) for b in blocks)
    assert model.patch_embed.stride == (7, 7) and model.pos_embed.shape == (1, 16, 64)
    # attention: the softmax of the scaled scores weighs the values (checked against the formula)
    torch.manual_seed(1)
    attention = zoo.Attention(8, 2).eval()
    x = torch.randn(2, 5, 8)
    q, k, v = attention.qkv(x).reshape(2, 5, 3, 2, 4).permute(2, 0, 3, 1, 4)
    weights = torch.softmax(q @ k.transpose(-2, -1) / 2.0, dim=-1)  # sqrt(head width 4) = 2
    expected = attention.proj((weights @ v).transpose(1, 2).reshape(2, 5, 8))
    with torch.no_grad():
        assert torch.allclose(attention(x), expected, atol=1e-5)
    with pytest.raises(NetsimError, match="embedding width 10 must be a multiple of the number of heads 4"):
        zoo.Attention(10, 4)
    with pytest.raises(NetsimError, match="image size 28 must be a multiple of the patch size 5"):
        zoo.vit_tiny(patch=5)


def test_mobilenet_is_depthwise_separable_with_inverted_residuals():
    model = zoo.mobilenet()
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    depthwise = [c for c in convs if c.groups > 1]
    assert depthwise and all(c.groups == c.in_channels == c.out_channels and c.kernel_size == (3, 3)
                             for c in depthwise)
    assert all(c.kernel_size == (1, 1) for c in convs if c.groups == 1 and c is not convs[0])
    blocks = [m for m in model.modules() if isinstance(m, zoo.InvertedResidual)]
    expanded = [b for b in blocks if len(b.conv) == 8]  # 1x1 expand, depthwise, 1x1 project (+ BN, ReLU6)
    assert expanded and all(b.conv[0].out_channels > b.conv[0].in_channels for b in expanded)
    block = next(b for b in blocks if b.residual)
    x = torch.randn(1, block.conv[0].in_channels, 4, 4)
    with torch.no_grad():
        assert torch.equal(block.eval()(x), x + block.conv(x))


def test_cnn1d_reads_rows_as_time_steps():
    model = zoo.cnn1d().eval()
    first = model.features[0]
    assert isinstance(first, torch.nn.Conv1d) and first.in_channels == 28
    seen = []
    first.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        model(x)
    assert torch.equal(seen[0], x[:, 0].transpose(1, 2))  # [batch, 28 pixels of a row, 28 rows]


@pytest.mark.parametrize("name", NEW_MODELS)
def test_every_parameter_of_the_new_models_is_trained(name):
    """One backward pass on digits reaches every parameter (no branch is left out of the forward)."""
    from netsim import data
    torch.manual_seed(0)
    model = zoo.build(name).train()
    x, y = next(iter(data.loader(data.load("mnist5k", "train"), 16)))
    torch.nn.functional.cross_entropy(model(x), y).backward()
    untrained = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not untrained


def test_netsim_train_uses_the_model_defaults(tmp_path):
    """`netsim train vit_tiny` (a few steps): the model's own epochs and lr unless given, a checkpoint
    that loads, and `netsim zoo` lists the defaults."""
    from netsim import cli
    path = tmp_path / "vit.pt"
    assert cli.main(["train", "vit_tiny", "-o", str(path), "--epochs", "1", "--limit", "32", "--no-progress"]) == 0
    record = checkpoint.load(path)
    assert record.model == "vit_tiny" and record.metadata["epochs"] == 1
    assert record.metadata["lr"] == zoo.ZOO["vit_tiny"].lr
    assert zoo.build("vit_tiny", weights=path).head.weight.shape == (10, 64)


@pytest.mark.parametrize("name", NEW_MODELS)
def test_new_model_checkpoint_round_trip(tmp_path, name):
    torch.manual_seed(0)
    model = zoo.build(name)
    path = checkpoint.save(tmp_path / "m.pt", model, name, dataset="mnist5k")
    loaded = zoo.build(name, weights=path)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))


# --- torchvision and timm models (when installed) -----------------------------------------------------

from netsim import zoo_external  # noqa: E402

TORCHVISION_MISSING = zoo_external.available("torchvision")
TIMM_MISSING = zoo_external.available("timm")


@pytest.mark.skipif(TORCHVISION_MISSING is not None, reason=f"torchvision: {TORCHVISION_MISSING}")
def test_torchvision_model_converts():
    torch.manual_seed(0)
    model = zoo.build("torchvision:mobilenet_v2", num_classes=10).eval()
    x = torch.rand(2, 3, 32, 32)
    exact = netsim.convert(model, netsim.Config.uniform(), [x], strict=True)
    via_kernels = netsim.convert(model, netsim.Config.uniform(multiplier="M2P0"), [x], strict=True)
    with torch.no_grad():
        assert torch.equal(exact(x), via_kernels(x))
    assert len(netsim.describe(exact).rows) == 53  # 52 convolutions (17 depthwise) and the classifier
    with pytest.raises(NetsimError, match="torchvision has no model 'mobilenet_v9'; did you mean"):
        zoo.build("torchvision:mobilenet_v9")


@pytest.mark.skipif(TIMM_MISSING is not None, reason=f"timm: {TIMM_MISSING}")
def test_timm_vit_converts(tmp_path):
    torch.manual_seed(0)
    kwargs = dict(num_classes=10, img_size=28, patch_size=7, in_chans=1, embed_dim=32, depth=2, num_heads=2)
    model = zoo.build("timm:vit_tiny_patch16_224", **kwargs).eval()
    x = torch.rand(2, 1, 28, 28)
    exact = netsim.convert(model, netsim.Config.uniform(), [x], strict=True)
    via_kernels = netsim.convert(model, netsim.Config.uniform(multiplier="M2P0"), [x], strict=True)
    with torch.no_grad():
        assert torch.equal(exact(x), via_kernels(x))
    names = {row["layer"] for row in netsim.describe(via_kernels).rows}
    assert {"blocks.0.attn.qkv", "blocks.1.attn.proj", "head"} <= names
    assert any(name.startswith("blocks.0.attn.") and name not in ("blocks.0.attn.qkv", "blocks.0.attn.proj")
               for name in names)  # the attention products themselves
    path = checkpoint.save(tmp_path / "t.pt", model, "timm:vit_tiny_patch16_224", model_kwargs=kwargs)
    loaded = zoo.build("timm:vit_tiny_patch16_224", weights=path)
    assert torch.equal(loaded.head.weight, model.head.weight)


@pytest.mark.parametrize("prefix", ["torchvision", "timm"])
def test_missing_package_is_one_line_naming_the_install(prefix):
    if zoo_external.available(prefix) is None:
        pytest.skip(f"{prefix} is installed")
    with pytest.raises(NetsimError, match=f"{prefix} models need the {prefix} package|{prefix} cannot be imported"
                                          f".*pip install"):
        zoo.build(f"{prefix}:resnet18")


def test_matching_torchvision_follows_the_release_pairing(monkeypatch):
    monkeypatch.setattr(torch, "__version__", "2.13.0+cpu")
    assert zoo_external.matching_torchvision() == "0.28.*"  # torchvision 0.28.0 requires torch==2.13.0
    monkeypatch.setattr(torch, "__version__", "2.0.1")
    assert zoo_external.matching_torchvision() == "0.15.*"


def test_external_name_errors():
    with pytest.raises(NetsimError, match="torchvision:<name> or timm:<name>, not 'timm:'"):
        zoo_external.build("timm:")
    with pytest.raises(NetsimError, match=r"unknown model 'vit'.*vit_tiny.*torchvision:<name>"):
        zoo.build("vit")
