"""The policy-value net, AlphaZero's distilled model: a small residual conv net over the board
with a policy head (logits over every action) and a value head (the mover's expected outcome,
in [-1, 1])."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn


class NetSettings(BaseModel):
    """The net's shape."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    width: int = Field(64, ge=1, description="channels of every residual block")
    blocks: int = Field(4, ge=0, description="residual blocks")
    value_hidden: int = Field(64, ge=1, description="hidden units of the value head")


class _Block(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(x + self.bn2(self.conv2(y)))


class PolicyValueNet(nn.Module):
    """``(B, planes, H, W)`` boards -> ``(B, actions)`` policy logits and ``(B,)`` values."""

    def __init__(self, planes: int, height: int, width: int, actions: int, net: NetSettings):
        super().__init__()
        w = net.width
        self.stem = nn.Sequential(
            nn.Conv2d(planes, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU()
        )
        self.blocks = nn.Sequential(*(_Block(w) for _ in range(net.blocks)))
        cells = height * width
        self.policy = nn.Sequential(
            nn.Conv2d(w, 2, 1, bias=False),
            nn.BatchNorm2d(2),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(2 * cells, actions),
        )
        self.value = nn.Sequential(
            nn.Conv2d(w, 1, 1, bias=False),
            nn.BatchNorm2d(1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(cells, net.value_hidden),
            nn.ReLU(),
            nn.Linear(net.value_hidden, 1),
            nn.Tanh(),
        )

    def forward(self, boards: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.blocks(self.stem(boards))
        return self.policy(x), self.value(x).squeeze(-1)
