"""Deprecated (until aimc-plugins 0.3.0): RLv2 on a subclass of aihwkit's transfer tile.

``rlv2`` now runs :class:`aimc_residual_learning.rules.RLv2Rule` on aimc's transfer-rule API;
this module stays for a release so that code importing it keeps working, and the tests check
that the rule reproduces it exactly. What follows is the earlier implementation's description.

RLv2 as a transfer rule in Python over aihwkit's compiled device tiles.

RLv2 (Wu et al., arXiv 2502.06309) is TTv2 with two changes aihwkit lacks:

- the digital buffer decays: ``H <- (1 - beta) H + beta (P + read noise)``, a low-pass filter of
  ``P`` rather than a running sum, so the buffer tracks ``P`` instead of integrating it;
- gradients are taken at ``W + gamma P``: the forward and backward passes see both arrays.

As in TTv2, one pulse is fired on ``W`` when ``|H|`` crosses the threshold (``dw_min`` of the
main device), and the pulse is subtracted from ``H``.

aihwkit's :class:`~aihwkit.simulator.tiles.transfer.TorchTransferTile` runs the transfer of
TTv2 / c-TTv2 / AGAD in Python over two compiled tiles (``grad_tile`` = ``P``, ``weight_tile`` =
``W``). :class:`RLv2Tile` swaps in :class:`RLv2SimulatorTile`, which keeps those tiles (so every
pulse on ``P`` and ``W`` is still the C++ device model) and replaces only the transfer rule and
the read of the effective weight. The transfer is vectorised: each transfer event reads a block
of columns of ``P`` with one batched forward pass and writes them with one batched update.

Rates, as in aihwkit's transfer compounds: ``alpha`` is the compound's ``fast_lr`` (fixed), and
``beta`` is the torch optimizer's learning rate, so it must be at most 1.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import torch
from aihwkit.exceptions import ConfigError
from aihwkit.simulator.configs.compounds import ChoppedTransferCompound
from aihwkit.simulator.tiles.transfer import TorchTransferTile, TransferSimulatorTile
from torch import Tensor


@dataclass
class RLv2Compound(ChoppedTransferCompound):
    """A :class:`ChoppedTransferCompound` read by :class:`RLv2Tile` (never by the C++ core).

    Of its fields RLv2 uses ``unit_cell_devices`` (``[P's device, W's device]``), ``fast_lr``
    (alpha), ``gamma``, ``transfer_every`` (in mini-batches), ``n_reads_per_transfer`` (columns
    per transfer event; 0, or more than the layer has: all), ``buffer_granularity`` (threshold
    in units of ``W``'s granularity),
    ``transfer_forward`` (how ``P`` is read, read noise included) and ``transfer_update``
    (``desired_bl`` = most pulses per element and transfer).
    """

    buffer_decay: bool = True
    """Decay the buffer (RLv2). Off, the buffer integrates ``beta P`` as in TTv2: an ablation."""

    in_chop_prob: float = 0.0

    units_in_mbatch: bool = True
    """:class:`RLv2SimulatorTile` counts ``transfer_every`` in update calls (mini-batches); set
    so that readers of the config (``aimc_plugins.training.transfer.transfer_writes``) count
    alike."""


class RLv2SimulatorTile(TransferSimulatorTile):
    """The two compiled tiles of :class:`TransferSimulatorTile` with RLv2's transfer rule.

    ``hidden_weight`` (a buffer, so it is saved with the model) is ``H`` in weight units,
    transposed (one row per column of ``W``), as in the parent class.
    """

    def __init__(self, x_size: int, d_size: int, rpu_config: Any, dtype: Any) -> None:
        warnings.warn(
            "aimc_residual_learning.rlv2.RLv2Tile is deprecated and goes in 0.3.0: rlv2 is a "
            "transfer rule now (aimc_residual_learning.rules.RLv2Rule)",
            DeprecationWarning,
            stacklevel=2,
        )
        if not isinstance(rpu_config.device, RLv2Compound):
            raise ConfigError("RLv2Tile needs an RLv2Compound device")
        super().__init__(x_size, d_size, rpu_config, dtype)
        self.chopper = None
        self.next_column = 0
        self.transfer_debt = 0.0
        self.weight_tile.set_learning_rate(self.to_weight_granularity)

    @property
    def gamma(self) -> float:
        return float(self.device_config.gamma)

    def forward(
        self,
        x_input: Tensor,
        bias: bool = False,
        in_trans: bool = False,
        out_trans: bool = False,
        is_test: bool = False,
        non_blocking: bool = False,
    ) -> Tensor:
        """``(W + gamma P) x``: two analog reads, ``P``'s with the transfer read settings."""
        out = self.weight_tile.tile.forward(
            x_input, bias, in_trans, out_trans, is_test, non_blocking
        )
        if self.gamma:
            out = out + self.gamma * self.grad_tile.tile.forward(
                x_input, bias, in_trans, out_trans, is_test, non_blocking
            )
        return out

    def backward(
        self,
        d_input: Tensor,
        bias: bool = False,
        in_trans: bool = False,
        out_trans: bool = False,
        non_blocking: bool = False,
    ) -> Tensor:
        """``(W + gamma P)^T d``, so the gradient is the one at ``W + gamma P``."""
        out = self.weight_tile.tile.backward(d_input, bias, in_trans, out_trans, non_blocking)
        if self.gamma:
            out = out + self.gamma * self.grad_tile.tile.backward(
                d_input, bias, in_trans, out_trans, non_blocking
            )
        return out

    def update(
        self,
        x_input: Tensor,
        d_input: Tensor,
        bias: bool = False,
        in_trans: bool = False,
        out_trans: bool = False,
        non_blocking: bool = False,
    ) -> None:
        """Pulse the gradient into ``P`` at rate alpha, then run the transfer events due."""
        cfg = self.device_config
        if in_trans or out_trans or bias:
            raise ConfigError("RLv2Tile supports neither transposed inputs nor analog bias")
        self.grad_tile.set_learning_rate(cfg.fast_lr)
        self.grad_tile.tile.update(x_input, d_input, bias, in_trans, out_trans, non_blocking)
        if cfg.transfer_every <= 0:
            return
        self.transfer_debt += 1.0 / cfg.transfer_every
        while self.transfer_debt >= 1.0 - 1e-9:
            self.transfer_debt -= 1.0
            self._transfer(x_input)

    @torch.no_grad()
    def _transfer(self, like: Tensor) -> None:
        """One transfer event over the next ``n_reads_per_transfer`` columns."""
        cfg = self.device_config
        n_reads = int(cfg.n_reads_per_transfer)
        n_cols = self.t_in_size if n_reads <= 0 else min(n_reads, self.t_in_size)
        cols = (self.next_column + torch.arange(n_cols)) % self.t_in_size
        self.next_column = int(cols[-1] + 1) % self.t_in_size
        one_hot = torch.eye(self.t_in_size, dtype=like.dtype, device=like.device)[cols]

        p_read = self.grad_tile.tile.forward(one_hot, False, False, False, False, False)
        beta = float(self.learning_rate)
        buffer = self.hidden_weight[cols]
        if cfg.buffer_decay:
            buffer = (1.0 - beta) * buffer + beta * p_read
        else:
            buffer = buffer + beta * p_read

        granularity = self.to_weight_granularity
        threshold = cfg.buffer_granularity * granularity
        max_pulses = max(int(cfg.transfer_update.desired_bl), 1)
        pulses = torch.trunc(buffer / threshold).clamp(-max_pulses, max_pulses)
        self.hidden_weight[cols] = buffer - pulses * granularity
        if pulses.abs().sum() > 0:
            # The tile's update subtracts lr * d x^T; lr is one granularity, so d = -pulses.
            # Set on every write: aihwkit's AnalogSGD sets the learning rate of every analog
            # tile it finds, this inner one included (to beta), which made each crossing fire
            # max_pulses pulses before 0.2.0.
            self.weight_tile.set_learning_rate(self.to_weight_granularity)
            self.weight_tile.tile.update(one_hot, -pulses, False, False, False, False)

    def get_weights(self) -> Tensor:
        """``W + gamma P``, the weight the network computes with (as aihwkit's compiled transfer
        compounds report it); ``W`` alone is ``weight_tile.tile.get_weights()``."""
        weights = self.weight_tile.tile.get_weights()
        if self.gamma:
            weights = weights + self.gamma * self.grad_tile.tile.get_weights()
        return weights

    def set_weights(self, weight: Tensor) -> None:
        """Set ``W`` and clear ``P`` and the buffer, so the network computes with exactly
        ``weight`` (with ``gamma > 0`` a leftover ``P`` would add to it)."""
        self.weight_tile.tile.set_weights(weight)
        self.grad_tile.tile.set_weights(torch.zeros_like(weight))
        self.hidden_weight.zero_()

    def buffer(self) -> Tensor:
        """``H`` in weight units, shaped like ``W`` (out x in)."""
        return self.hidden_weight.T.clone()


class RLv2Tile(TorchTransferTile):
    """aihwkit's Python transfer tile with :class:`RLv2SimulatorTile` inside; set it as the
    ``tile_class`` of a ``UnitCellRPUConfig`` whose device is an :class:`RLv2Compound`."""

    def _create_simulator_tile(self, x_size: int, d_size: int, rpu_config: Any) -> Any:
        return RLv2SimulatorTile(x_size, d_size, rpu_config, dtype=self.get_data_type())


def legacy_rlv2_config(
    main: Any,
    residual: Any,
    *,
    alpha: float,
    gamma: float,
    transfer_every: float,
    n_reads_per_transfer: int,
    threshold: float,
    max_pulses: int,
    buffer_decay: bool,
) -> Any:
    """The ``UnitCellRPUConfig`` of the earlier RLv2: an :class:`RLv2Compound` read by
    :class:`RLv2Tile` (what ``aimc_residual_learning.rlv2_config`` returned)."""
    from aihwkit.simulator.configs import UnitCellRPUConfig
    from aihwkit.simulator.parameters import IOParameters, UpdateParameters
    from aihwkit.simulator.parameters.enums import BoundManagementType, NoiseManagementType

    compound = RLv2Compound(
        unit_cell_devices=[residual, main],
        fast_lr=alpha,
        gamma=gamma,
        transfer_every=transfer_every,
        n_reads_per_transfer=n_reads_per_transfer,
        buffer_granularity=threshold,
        buffer_decay=buffer_decay,
        transfer_forward=IOParameters(
            noise_management=NoiseManagementType.NONE, bound_management=BoundManagementType.NONE
        ),
        transfer_update=UpdateParameters(
            desired_bl=max_pulses, update_bl_management=False, update_management=False
        ),
    )
    return UnitCellRPUConfig(device=compound, tile_class=RLv2Tile)
