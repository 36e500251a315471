"""Model zoo: MLP, LeNet-5, CifarNet, VGG-16 and ResNet-18 (CIFAR-size and ImageNet-size).

Every builder takes ``weights=`` (a checkpoint path, see :mod:`netsim.checkpoint`) and returns a plain
``nn.Module``; any user module works with :func:`netsim.convert` just the same.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from .errors import NetsimError


class MLP(nn.Module):
    """784-300-100-10 (LeCun et al. 1998), ReLU."""

    def __init__(self, in_features: int = 784, hidden=(300, 100), num_classes: int = 10):
        super().__init__()
        sizes = [in_features, *hidden]
        self.flatten = nn.Flatten()
        self.layers = nn.Sequential(*[m for a, b in zip(sizes, sizes[1:]) for m in (nn.Linear(a, b), nn.ReLU())])
        self.fc = nn.Linear(sizes[-1], num_classes)

    def forward(self, x):
        return self.fc(self.layers(self.flatten(x)))


class LeNet5(nn.Module):
    """LeNet-5 on 28x28 inputs (conv1 pads by 2, as the original's 32x32), ReLU and max pooling."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)
        self.pool = nn.MaxPool2d(2)
        self.relu = nn.ReLU()

    def forward(self, x):
        x = self.pool(self.relu(self.conv1(x)))
        x = self.pool(self.relu(self.conv2(x)))
        x = x.flatten(1)
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        return self.fc3(x)


class CifarNet(nn.Module):
    """The TF-slim CifarNet: conv5x5-64, pool, conv5x5-64, pool, fc 384, fc 192, fc classes
    (the local response normalisation is left out, as in most re-implementations)."""

    def __init__(self, in_channels: int = 3, num_classes: int = 10, image_size: int = 32):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 5, padding=2)
        self.conv2 = nn.Conv2d(64, 64, 5, padding=2)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.relu = nn.ReLU()
        side = (image_size + 3) // 4
        self.fc1 = nn.Linear(64 * side * side, 384)
        self.fc2 = nn.Linear(384, 192)
        self.fc3 = nn.Linear(192, num_classes)

    def forward(self, x):
        x = self.pool(self.relu(self.conv1(x)))
        x = self.pool(self.relu(self.conv2(x)))
        x = x.flatten(1)
        return self.fc3(self.relu(self.fc2(self.relu(self.fc1(x)))))


VGG16_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


class VGG16(nn.Module):
    """VGG-16 with batch norm. ``imagenet=False``: 32x32 inputs, classifier 512-512-classes;
    ``imagenet=True``: 224x224 inputs, adaptive 7x7 pooling and the 4096-4096-classes classifier."""

    def __init__(self, in_channels: int = 3, num_classes: int = 10, imagenet: bool = False):
        super().__init__()
        layers, channels = [], in_channels
        for item in VGG16_LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(channels, item, 3, padding=1), nn.BatchNorm2d(item), nn.ReLU(inplace=True)]
                channels = item
        self.features = nn.Sequential(*layers)
        if imagenet:
            self.pool = nn.AdaptiveAvgPool2d(7)
            self.classifier = nn.Sequential(nn.Linear(512 * 49, 4096), nn.ReLU(inplace=True), nn.Dropout(),
                                            nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(),
                                            nn.Linear(4096, num_classes))
        else:
            self.pool = nn.Identity()
            self.classifier = nn.Sequential(nn.Linear(512, 512), nn.ReLU(inplace=True), nn.Linear(512, num_classes))

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(planes))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    """ResNet-18. ``imagenet=False``: 3x3 stem without max pooling (32x32 inputs, as in most CIFAR
    work); ``imagenet=True``: 7x7 stride-2 stem and max pooling (224x224 inputs, torchvision layout)."""

    def __init__(self, in_channels: int = 3, num_classes: int = 10, imagenet: bool = False):
        super().__init__()
        if imagenet:
            self.stem = nn.Sequential(nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False),
                                      nn.BatchNorm2d(64), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        else:
            self.stem = nn.Sequential(nn.Conv2d(in_channels, 64, 3, padding=1, bias=False),
                                      nn.BatchNorm2d(64), nn.ReLU(inplace=True))
        stages, in_planes = [], 64
        for planes, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            stages.append(nn.Sequential(BasicBlock(in_planes, planes, stride), BasicBlock(planes, planes)))
            in_planes = planes
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.pool(x).flatten(1))


@dataclass(frozen=True)
class ZooEntry:
    name: str
    build: Callable
    input_shape: tuple  # one sample: C, H, W
    dataset: str  # the dataset it is meant for


ZOO = {
    "mlp": ZooEntry("mlp", MLP, (1, 28, 28), "mnist5k"),
    "lenet5": ZooEntry("lenet5", LeNet5, (1, 28, 28), "mnist5k"),
    "cifarnet": ZooEntry("cifarnet", CifarNet, (3, 32, 32), "cifar10"),
    "vgg16": ZooEntry("vgg16", VGG16, (3, 32, 32), "cifar10"),
    "vgg16-imagenet": ZooEntry("vgg16-imagenet", lambda **kw: VGG16(imagenet=True, **{"num_classes": 1000, **kw}),
                               (3, 224, 224), "folder"),
    "resnet18": ZooEntry("resnet18", ResNet18, (3, 32, 32), "cifar10"),
    "resnet18-imagenet": ZooEntry("resnet18-imagenet",
                                  lambda **kw: ResNet18(imagenet=True, **{"num_classes": 1000, **kw}),
                                  (3, 224, 224), "folder"),
}


def names() -> list:
    return list(ZOO)


def build(name: str, weights=None, **kwargs) -> nn.Module:
    """A zoo model by name; ``weights`` is a checkpoint path whose state_dict is loaded."""
    entry = ZOO.get(name.lower()) if isinstance(name, str) else None
    if entry is None:
        raise NetsimError(f"unknown model {name!r}; the zoo has {', '.join(ZOO)}")
    if weights is not None:
        from .checkpoint import load
        checkpoint = load(weights)
        if checkpoint.model not in (None, entry.name):
            raise NetsimError(f"{weights} holds a {checkpoint.model} checkpoint, not {entry.name}")
        model = entry.build(**{**checkpoint.model_kwargs, **kwargs})
        checkpoint.apply(model, str(weights))
        return model
    return entry.build(**kwargs)


def num_outputs(model: nn.Module) -> int | None:
    """The class count of a classifier: the width of its last Linear layer (None without one)."""
    last = None
    for module in model.modules():
        if isinstance(module, nn.Linear):
            last = module
    return last.out_features if last is not None else None


def check_data(name: str, model: nn.Module, dataset, source: str) -> None:
    """Refuse data the model cannot score honestly: images of another shape than the zoo entry's, or
    more classes than the model has outputs (labels it can never predict would count as errors)."""
    entry = ZOO[name.lower()]
    if len(dataset) == 0:
        raise NetsimError(f"{source} holds no samples")
    found = tuple(dataset[0][0].shape)
    if found != entry.input_shape:
        shape = lambda s: "x".join(map(str, s))  # noqa: E731
        raise NetsimError(f"{source}: the images are {shape(found)} (CxHxW), but {entry.name} takes "
                          f"{shape(entry.input_shape)}")
    outputs = num_outputs(model)
    classes = getattr(dataset, "classes", None)
    labels = dataset.tensors[1] if hasattr(dataset, "tensors") else None
    if outputs is None:
        return
    if classes is not None and len(classes) > outputs:
        raise NetsimError(f"{source} has {len(classes)} classes but {entry.name} has {outputs} outputs; "
                          f"give data with at most {outputs} classes")
    if labels is not None and len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < outputs:
        raise NetsimError(f"{source} has labels {int(labels.min())}..{int(labels.max())} but {entry.name} has "
                          f"{outputs} outputs (labels 0..{outputs - 1})")


def mlp(weights=None, **kwargs):
    return build("mlp", weights, **kwargs)


def lenet5(weights=None, **kwargs):
    return build("lenet5", weights, **kwargs)


def cifarnet(weights=None, **kwargs):
    return build("cifarnet", weights, **kwargs)


def vgg16(weights=None, imagenet: bool = False, **kwargs):
    return build("vgg16-imagenet" if imagenet else "vgg16", weights, **kwargs)


def resnet18(weights=None, imagenet: bool = False, **kwargs):
    return build("resnet18-imagenet" if imagenet else "resnet18", weights, **kwargs)
