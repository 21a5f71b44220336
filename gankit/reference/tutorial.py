"""REFERENCE COPY of the tutorial's PyTorch GAN (section 6 of the tutorial gankit started from), kept as the
baseline that gankit is compared against. Not used by gankit's training and not to be improved: its slowness
and its sigmoid + BCELoss are the point.

Differences from the tutorial's text, none of which changes what is computed:
- the data comes from gankit's offline data directory (torchvision's MNIST layout) with download=False,
  since this machine cannot download;
- the step is a function, so tests can feed it the same weights, batch and noise as gankit's step;
- `draw_noise`, `num_epochs`, `max_steps` and the per-epoch log are parameters, for comparisons and benchmarks;
- the per-epoch image display (plt.show) is left out: it draws nothing headless;
- the labels are made on the batch's device (the tutorial runs on the CPU only), so benchmarks/train_speed.py
  can run the same loop on a GPU with the batch and noise moved there.

    python -m gankit.reference.tutorial --epochs 3 --seed 0 --csv tutorial_seed0.csv
"""

from __future__ import annotations

import argparse
import csv
import time

import torch
import torch.nn as nn
import torchvision
import torchvision.transforms as transforms


class Generator(nn.Module):
    def __init__(self):
        super(Generator, self).__init__()
        self.model = nn.Sequential(
            nn.Linear(100, 256),
            nn.ReLU(),
            nn.Linear(256, 512),
            nn.ReLU(),
            nn.Linear(512, 1024),
            nn.ReLU(),
            nn.Linear(1024, 784),  # MNIST와 같은 28x28 이미지
            nn.Tanh(),
        )

    def forward(self, x):
        return self.model(x)


class Discriminator(nn.Module):
    def __init__(self):
        super(Discriminator, self).__init__()
        self.model = nn.Sequential(
            nn.Linear(784, 512),
            nn.LeakyReLU(0.2),
            nn.Linear(512, 256),
            nn.LeakyReLU(0.2),
            nn.Linear(256, 1),
            nn.Sigmoid(),
        )

    def forward(self, x):
        return self.model(x)


def make_loader(data_dir: str, batch_size: int = 64):
    transform = transforms.Compose([
        transforms.ToTensor(),
        transforms.Normalize((0.5,), (0.5,)),
    ])
    train_dataset = torchvision.datasets.MNIST(root=data_dir, train=True, download=False, transform=transform)
    return torch.utils.data.DataLoader(dataset=train_dataset, batch_size=batch_size, shuffle=True)


def tutorial_step(generator, discriminator, criterion, optimizer_G, optimizer_D, real_images, noise):
    """The body of the tutorial's inner loop, line for line; returns its loss values as tensors."""
    batch_size = real_images.size(0)
    # 라벨 생성
    real_labels = torch.ones(batch_size, 1, device=real_images.device)
    fake_labels = torch.zeros(batch_size, 1, device=real_images.device)
    # 판별기 훈련
    optimizer_D.zero_grad()
    outputs = discriminator(real_images.view(batch_size, -1))
    d_loss_real = criterion(outputs, real_labels)
    d_loss_real.backward()
    fake_images = generator(noise)
    outputs = discriminator(fake_images.detach())
    d_loss_fake = criterion(outputs, fake_labels)
    d_loss_fake.backward()
    optimizer_D.step()
    # 생성기 훈련
    optimizer_G.zero_grad()
    outputs = discriminator(fake_images)
    g_loss = criterion(outputs, real_labels)
    g_loss.backward()
    optimizer_G.step()
    return d_loss_real + d_loss_fake, g_loss


def make_tutorial(seed: int = 0):
    torch.manual_seed(seed)
    criterion = nn.BCELoss()
    generator = Generator()
    discriminator = Discriminator()
    optimizer_G = torch.optim.Adam(generator.parameters(), lr=0.0002, betas=(0.5, 0.999))
    optimizer_D = torch.optim.Adam(discriminator.parameters(), lr=0.0002, betas=(0.5, 0.999))
    return generator, discriminator, criterion, optimizer_G, optimizer_D


def run(data_dir: str, num_epochs: int = 100, seed: int = 0, max_steps: int | None = None, on_epoch=None):
    """The tutorial's training loop. Returns per-epoch mean losses (the tutorial prints only the last batch's)."""
    generator, discriminator, criterion, optimizer_G, optimizer_D = make_tutorial(seed)
    train_loader = make_loader(data_dir)
    history, steps = [], 0
    for epoch in range(num_epochs):
        d_sum = g_sum = 0.0
        n = 0
        t0 = time.monotonic()
        for i, (real_images, _) in enumerate(train_loader):
            noise = torch.randn(real_images.size(0), 100)
            d_loss, g_loss = tutorial_step(generator, discriminator, criterion, optimizer_G, optimizer_D, real_images, noise)
            d_sum += d_loss.item()
            g_sum += g_loss.item()
            n += 1
            steps += 1
            if max_steps is not None and steps >= max_steps:
                break
        row = {"epoch": epoch + 1, "d_loss": d_sum / n, "g_loss": g_sum / n, "seconds": time.monotonic() - t0}
        history.append(row)
        print(f"Epoch [{epoch+1}/{num_epochs}], d_loss: {row['d_loss']:.4f}, g_loss: {row['g_loss']:.4f}")
        if on_epoch is not None:
            on_epoch(epoch + 1, generator)
        if max_steps is not None and steps >= max_steps:
            break
    return history, generator


def main() -> None:
    from gankit.data import default_data_dir, prepare

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--csv", help="write per-epoch mean losses here")
    args = parser.parse_args()
    prepare("mnist")
    history, _ = run(str(default_data_dir()), args.epochs, args.seed)
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(history[0]))
            writer.writeheader()
            writer.writerows(history)


if __name__ == "__main__":
    main()
