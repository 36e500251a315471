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
