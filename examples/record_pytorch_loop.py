"""Record a plain PyTorch training loop with misgen, then decompose it: ``misgen svd examples_run.h5``.

    python examples/record_pytorch_loop.py examples_run.h5 && misgen svd examples_run.h5 --k 10
"""

import sys

import torch

import misgen

torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
inputs = torch.randn(512, 16)
targets = inputs[:, :3].sum(dim=1, keepdim=True).sin()

with misgen.record(model, optimizer, sys.argv[1], streams=("grads", "updates"), dtype="float32", every=1) as rec:
    for step in range(500):
        batch = torch.randint(0, len(inputs), (16,))
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(inputs[batch]), targets[batch])
        loss.backward()
        optimizer.step()
        rec.log(loss=loss.item())
print(f"recorded {rec.steps} optimizer steps into {sys.argv[1]}; last loss {loss.item():.4f}")
