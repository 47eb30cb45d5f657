"""MobileNetV2 (alpha 1.0) in plain PyTorch, for the A2 row when torchvision is not installed.

The layer sizes of Keras's and trine's MobileNetV2: a 32-filter stride-2 stem, inverted
residual blocks (1x1 expansion by 6 except in the first, 3x3 depthwise, 1x1 linear
projection; a residual add where stride is 1 and widths match) in the (expansion, filters,
repeats, stride) stages below, a 1280-filter 1x1 head, global average pooling and the
classifier; convolutions without biases, BatchNormalization eps 1e-3, ReLU6. Returns logits.
"""
from __future__ import annotations

STAGES = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
          (6, 160, 3, 2), (6, 320, 1, 1)]


def mobilenet_v2(torch, classes=1000):
    nn = torch.nn

    def conv_bn(cin, cout, kernel, stride=1, groups=1, relu=True):
        layers = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
                  nn.BatchNorm2d(cout, eps=1e-3)]
        return nn.Sequential(*layers, nn.ReLU6()) if relu else nn.Sequential(*layers)

    class InvertedResidual(nn.Module):
        def __init__(self, cin, cout, expansion, stride):
            super().__init__()
            mid = cin * expansion
            expand = [conv_bn(cin, mid, 1)] if expansion != 1 else []
            self.body = nn.Sequential(*expand, conv_bn(mid, mid, 3, stride, groups=mid),
                                      conv_bn(mid, cout, 1, relu=False))
            self.residual = stride == 1 and cin == cout

        def forward(self, x):
            y = self.body(x)
            return x + y if self.residual else y

    blocks, cin = [conv_bn(3, 32, 3, 2)], 32
    for expansion, filters, repeats, stride in STAGES:
        for i in range(repeats):
            blocks.append(InvertedResidual(cin, filters, expansion, stride if i == 0 else 1))
            cin = filters
    blocks += [conv_bn(cin, 1280, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
               nn.Linear(1280, classes)]
    return nn.Sequential(*blocks)
