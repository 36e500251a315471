import pytest


@pytest.fixture(scope="session")
def lenet_checkpoint(tmp_path_factory):
    """A LeNet-5 briefly trained on 512 embedded digits (seconds), saved as a netsim checkpoint."""
    import torch
    from netsim import checkpoint, data, train, zoo
    torch.manual_seed(0)
    model = zoo.lenet5()
    subset = torch.utils.data.Subset(data.load("mnist5k", "train"), range(512))
    train.fit(model, data.loader(subset, 64, shuffle=True), epochs=2, progress=False)
    path = tmp_path_factory.mktemp("weights") / "lenet5.pt"
    checkpoint.save(path, model, "lenet5")
    return path
