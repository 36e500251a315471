"""Model zoo: MLP, LeNet-5, CifarNet, VGG-16, ResNet-18 (CIFAR-size and ImageNet-size), and the models
whose products are not all Conv2d / Linear: a small vision transformer (``vit_tiny``), a MobileNetV2-style
network (``mobilenet``: depthwise + pointwise, inverted residuals) and a 1-D convolutional network
(``cnn1d``: a digit read as a sequence of 28 rows). torchvision and timm models are built by
``torchvision:<name>`` and ``timm:<name>`` when those packages are installed (:mod:`netsim.zoo_external`).

Every builder takes ``weights=`` (a checkpoint path, see :mod:`netsim.checkpoint`) and returns a plain
``nn.Module``; any user module works with :func:`netsim.convert` just the same.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
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


class Attention(nn.Module):
    """Multi-head self-attention as in ViT: one ``qkv`` Linear, the two products of attention
    (scores ``q @ k^T`` and the weighted sum ``softmax @ v``, through ``F.scaled_dot_product_attention``)
    and the output projection ``proj``."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise NetsimError(f"the embedding width {dim} must be a multiple of the number of heads {heads}")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        batch, tokens, dim = x.shape
        q, k, v = self.qkv(x).reshape(batch, tokens, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        x = F.scaled_dot_product_attention(q, k, v)  # [batch, heads, tokens, dim / heads]
        return self.proj(x.transpose(1, 2).reshape(batch, tokens, dim))


class TransformerBlock(nn.Module):
    """Pre-norm transformer encoder block: x + attn(norm1(x)), then x + mlp(norm2(x)) (GELU MLP)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViTTiny(nn.Module):
    """A small vision transformer for 28x28 digits: 7x7 patches (16 tokens) embedded by a strided
    Conv2d, a learned position embedding, ``depth`` pre-norm blocks, mean pooling of the tokens and a
    Linear head (no class token: pooling trains faster on small data)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28, patch: int = 7,
                 dim: int = 64, depth: int = 4, heads: int = 4, mlp_ratio: int = 2):
        super().__init__()
        if image_size % patch:
            raise NetsimError(f"the image size {image_size} must be a multiple of the patch size {patch}")
        self.patch_embed = nn.Conv2d(in_channels, dim, patch, stride=patch)
        self.pos_embed = nn.Parameter(torch.randn(1, (image_size // patch) ** 2, dim) * 0.02)
        self.blocks = nn.Sequential(*[TransformerBlock(dim, heads, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2) + self.pos_embed  # [batch, tokens, dim]
        x = self.norm(self.blocks(x))
        return self.head(x.mean(dim=1))


class InvertedResidual(nn.Module):
    """MobileNetV2's block: 1x1 expansion (skipped when ``expand == 1``), 3x3 depthwise convolution
    (``groups`` = channels), 1x1 linear projection; a residual connection when shapes allow."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expand: int):
        super().__init__()
        hidden = in_channels * expand
        layers = []
        if expand != 1:
            layers += [nn.Conv2d(in_channels, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True)]
        layers += [nn.Conv2d(hidden, hidden, 3, stride=stride, padding=1, groups=hidden, bias=False),
                   nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True),
                   nn.Conv2d(hidden, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels)]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x):
        return x + self.conv(x) if self.residual else self.conv(x)


# (expansion t, output channels c, repeats n, first stride s), as in MobileNetV2's table, sized for 28x28
MOBILENET_LAYOUT = ((1, 16, 1, 1), (3, 24, 2, 2), (3, 32, 2, 2), (3, 64, 1, 1))


class MobileNet(nn.Module):
    """MobileNetV2-style network for small images: a 3x3 stem, inverted residual blocks
    (``MOBILENET_LAYOUT``), a 1x1 convolution to ``last_channels``, global average pooling, Linear."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, stem_channels: int = 16,
                 last_channels: int = 128, layout=MOBILENET_LAYOUT):
        super().__init__()
        layers = [nn.Conv2d(in_channels, stem_channels, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(stem_channels),
                  nn.ReLU6(inplace=True)]
        channels = stem_channels
        for expand, out_channels, repeats, stride in layout:
            for index in range(repeats):
                layers.append(InvertedResidual(channels, out_channels, stride if index == 0 else 1, expand))
                channels = out_channels
        layers += [nn.Conv2d(channels, last_channels, 1, bias=False), nn.BatchNorm2d(last_channels),
                   nn.ReLU6(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(last_channels, num_classes)

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))


class CNN1d(nn.Module):
    """A 1-D convolutional network on images read as sequences: each of the H rows is one time step
    with C x W features (28 steps of 28 pixels for MNIST); three Conv1d + BatchNorm + ReLU stages with
    max pooling, global average pooling over time, Linear."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, width: int = 28, channels=(64, 96, 128)):
        super().__init__()
        layers, previous = [], in_channels * width
        for index, out_channels in enumerate(channels):
            layers += [nn.Conv1d(previous, out_channels, 3, padding=1, bias=False), nn.BatchNorm1d(out_channels),
                       nn.ReLU(inplace=True)]
            if index < len(channels) - 1:
                layers.append(nn.MaxPool1d(2))
            previous = out_channels
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool1d(1)
        self.fc = nn.Linear(previous, num_classes)

    def forward(self, x):
        x = x.permute(0, 2, 1, 3).flatten(2).transpose(1, 2)  # [batch, C*W features, H time steps]
        return self.fc(self.pool(self.features(x)).flatten(1))


@dataclass(frozen=True)
class ZooEntry:
    name: str
    build: Callable
    input_shape: tuple  # one sample: C, H, W
    dataset: str  # the dataset it is meant for
    epochs: int = 30  # `netsim train` defaults: enough for the model's accuracy on its dataset
    lr: float = 2e-3


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
    "vit_tiny": ZooEntry("vit_tiny", ViTTiny, (1, 28, 28), "mnist5k", epochs=30, lr=2e-3),
    "mobilenet": ZooEntry("mobilenet", MobileNet, (1, 28, 28), "mnist5k", epochs=15, lr=4e-3),
    "cnn1d": ZooEntry("cnn1d", CNN1d, (1, 28, 28), "mnist5k", epochs=15, lr=4e-3),
}


def names() -> list:
    return list(ZOO)


def build(name: str, weights=None, **kwargs) -> nn.Module:
    """A zoo model by name; ``weights`` is a checkpoint path whose state_dict is loaded.

    ``torchvision:<name>`` and ``timm:<name>`` build those packages' models (see
    :mod:`netsim.zoo_external`); ``kwargs`` go to the builder (e.g. ``num_classes=10``)."""
    from . import zoo_external
    if zoo_external.is_external(name):
        model_name, builder = name, lambda **kw: zoo_external.build(name, **kw)
    else:
        entry = ZOO.get(name.lower()) if isinstance(name, str) else None
        if entry is None:
            raise NetsimError(f"unknown model {name!r}; the zoo has {', '.join(ZOO)} "
                              f"(and torchvision:<name>, timm:<name> when those packages are installed)")
        model_name, builder = entry.name, entry.build
    if weights is not None:
        from .checkpoint import load
        checkpoint = load(weights)
        if checkpoint.model not in (None, model_name):
            raise NetsimError(f"{weights} holds a {checkpoint.model} checkpoint, not {model_name}")
        model = builder(**{**checkpoint.model_kwargs, **kwargs})
        checkpoint.apply(model, str(weights))
        return model
    return builder(**kwargs)


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


def vit_tiny(weights=None, **kwargs):
    return build("vit_tiny", weights, **kwargs)


def mobilenet(weights=None, **kwargs):
    return build("mobilenet", weights, **kwargs)


def cnn1d(weights=None, **kwargs):
    return build("cnn1d", weights, **kwargs)
