"""RLv2 and multi-tile residual learning as transfer rules, written only with aimc's public API.

- :class:`RLv2Rule` (Wu et al., arXiv 2502.06309): a digital buffer between ``P`` and ``W``
  that decays, ``H <- (1 - beta) H + beta read(P)``; whole pulses are fired on ``W`` when
  ``|H|`` crosses the threshold and subtracted from ``H``. Gradients are taken at
  ``W + gamma P`` (``P`` is declared with weight ``gamma``).
- :class:`MultiTileRule` (Li, Wu, Liu, Gokmen, Chen, arXiv 2510.02516): ``N`` tiles, the
  network computes with ``sum_n gamma^n W_n``; the gradient is pulsed into the last, least
  significant tile ``W_{N-1}``, and each tile is transferred into the next more significant one
  on its own, slower timescale (``W_n += rate * read(W_{n+1})``), so tile ``n+1`` keeps
  learning the residual that the tiles before it leave. Two tiles are residual learning's
  ``P`` and ``W``; one tile is Analog SGD.
"""

from __future__ import annotations

import torch

from aimc_plugins import Arrays, ColumnCycle, TransferRule, events_due, scheduled_writes


class RLv2Rule(TransferRule):
    """RLv2 over arrays ``P`` (gradient) and ``W``; ``beta`` is the torch optimizer's lr."""

    gradient_array = "P"

    def __init__(
        self,
        alpha: float,
        transfer_every: float,
        n_reads_per_transfer: int,
        threshold: float,
        max_pulses: int,
        buffer_decay: bool,
    ) -> None:
        self.alpha = alpha
        self.transfer_every = transfer_every
        self.n_reads_per_transfer = n_reads_per_transfer
        self.threshold = threshold
        self.max_pulses = max(int(max_pulses), 1)
        self.buffer_decay = buffer_decay

    def gradient_lr(self, lr: float) -> float:
        return self.alpha

    def start(self, arrays: Arrays) -> None:
        self.buffer = torch.zeros(arrays.shape)  # H, in weight units
        self.cycle = ColumnCycle(arrays.columns)

    def after_update(self, arrays: Arrays) -> None:
        beta = arrays.lr
        step = arrays.granularity("W")
        for _ in range(events_due(arrays.step, self.transfer_every)):
            columns = self.cycle.take(self.n_reads_per_transfer)
            index = slice(None) if columns is None else columns
            read = arrays.read("P", columns)
            if self.buffer.device != read.device:  # the model moved (to CUDA) after start
                self.buffer = self.buffer.to(read.device)
            buffer = self.buffer[:, index]
            if self.buffer_decay:
                buffer = (1.0 - beta) * buffer + beta * read
            else:
                buffer = buffer + beta * read
            pulses = torch.trunc(buffer / (self.threshold * step))
            pulses = pulses.clamp(-self.max_pulses, self.max_pulses)
            self.buffer[:, index] = buffer - pulses * step
            if bool(pulses.any()):
                arrays.pulse("W", pulses, columns)

    def writes_per_column(self, n_minibatches: int, columns: int) -> float:
        return scheduled_writes(
            n_minibatches, self.transfer_every, self.n_reads_per_transfer, columns
        )

    def describe(self) -> str:
        return "RLv2 rule" if self.buffer_decay else "RLv2 rule (integrating buffer)"


def tile_names(tiles: int) -> list[str]:
    """``W0`` (most significant) to ``W{tiles-1}`` (the gradient tile)."""
    return [f"W{n}" for n in range(tiles)]


class MultiTileRule(TransferRule):
    """Multi-tile residual learning over ``tiles`` arrays ``W0 .. W{tiles-1}``.

    Link ``k`` (``k = 0`` joins the gradient tile to the one above it) transfers once every
    ``transfer_every * period_growth**k`` mini-batches at rate ``lr * rate_growth**k`` (the
    paper's code: ``transfer_every_vec = [2 * 5**k]``, ``transfer_lr_vec = [0.1 * 1.2**k]``),
    reading ``n_reads_per_transfer`` columns per event (0: all). Within a mini-batch the links
    run from the gradient tile upwards, as aihwkit's chained ``TransferCompound`` runs them.
    """

    def __init__(
        self,
        alpha: float,
        tiles: int,
        transfer_every: float,
        period_growth: float,
        rate_growth: float,
        n_reads_per_transfer: int,
    ) -> None:
        if tiles < 1:
            raise ValueError("multi-tile residual learning needs at least one tile")
        self.alpha = alpha
        self.tiles = tiles
        self.transfer_every = transfer_every
        self.period_growth = period_growth
        self.rate_growth = rate_growth
        self.n_reads_per_transfer = n_reads_per_transfer
        self.gradient_array = tile_names(tiles)[-1]

    def gradient_lr(self, lr: float) -> float:
        return self.alpha

    def period(self, link: int) -> float:
        return self.transfer_every * self.period_growth**link

    def start(self, arrays: Arrays) -> None:
        self.cycles = [ColumnCycle(arrays.columns) for _ in range(self.tiles - 1)]

    def after_update(self, arrays: Arrays) -> None:
        names = tile_names(self.tiles)
        for link in range(self.tiles - 1):
            source, target = names[-1 - link], names[-2 - link]
            rate = arrays.lr * self.rate_growth**link
            for _ in range(events_due(arrays.step, self.period(link))):
                columns = self.cycles[link].take(self.n_reads_per_transfer)
                arrays.write(target, rate * arrays.read(source, columns), columns)

    def writes_per_column(self, n_minibatches: int, columns: int) -> float | None:
        """The slowest link's: the most significant tile ``W0`` is written least often."""
        if self.tiles < 2:
            return None
        slowest = self.period(self.tiles - 2)
        return scheduled_writes(n_minibatches, slowest, self.n_reads_per_transfer, columns)

    def describe(self) -> str:
        return f"multi-tile residual learning rule ({self.tiles} tiles)"
