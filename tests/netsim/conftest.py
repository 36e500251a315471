import pytest


@pytest.fixture(scope="session")
def lenet_checkpoint(tmp_path_factory):
    """A LeNet-5 briefly trained on 768 embedded digits (seconds), saved as a netsim checkpoint."""
    import torch
    from netsim import checkpoint, data, train, zoo
    torch.manual_seed(0)
    model = zoo.lenet5()
    subset = torch.utils.data.Subset(data.load("mnist5k", "train"), range(768))
    train.fit(model, data.loader(subset, 32, shuffle=True), epochs=3, lr=3e-3, shift=0, progress=False)
    path = tmp_path_factory.mktemp("weights") / "lenet5.pt"
    checkpoint.save(path, model, "lenet5")
    return path
