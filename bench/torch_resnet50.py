"""ResNet-50 in plain PyTorch, for the A1 row when torchvision is not installed.

The layer sizes of Keras's and trine's ResNet50 (v1): bottleneck stages of 3-4-6-3 blocks
(64/128/256/512 filters, 4x expanded), the stride on each stage's first 1x1 convolution,
convolutions with biases and BatchNormalization eps 1.001e-5, so the three systems do the
same arithmetic. Returns logits: the loss applies the softmax.
"""
from __future__ import annotations


def resnet50(torch, classes=1000):
    nn = torch.nn

    def bn(c):
        return nn.BatchNorm2d(c, eps=1.001e-5)

    class Bottleneck(nn.Module):
        def __init__(self, cin, filters, stride):
            super().__init__()
            out = 4 * filters
            self.body = nn.Sequential(
                nn.Conv2d(cin, filters, 1, stride), bn(filters), nn.ReLU(),
                nn.Conv2d(filters, filters, 3, 1, 1), bn(filters), nn.ReLU(),
                nn.Conv2d(filters, out, 1), bn(out))
            # the first block of a stage projects the shortcut to the new width and stride
            self.shortcut = (nn.Sequential(nn.Conv2d(cin, out, 1, stride), bn(out))
                             if stride != 1 or cin != out else nn.Identity())

        def forward(self, x):
            return torch.relu(self.body(x) + self.shortcut(x))

    layers = [nn.Conv2d(3, 64, 7, 2, 3), bn(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for filters, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for b in range(blocks):
            layers.append(Bottleneck(cin, filters, stride if b == 0 else 1))
            cin = 4 * filters
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes)]
    return nn.Sequential(*layers)
