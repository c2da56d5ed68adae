"""The aihwkit tile that runs a transfer rule: one compiled tile per declared array.

aihwkit's :class:`~aihwkit.simulator.tiles.transfer.TorchTransferTile` is its own "transfer in
Python over compiled tiles" (TTv2, c-TTv2, AGAD); :class:`RuleTile` is that tile with a
simulator tile of ours inside, :class:`RuleSimulatorTile`, which builds one compiled
``AnalogTileWithoutPeriphery`` per :class:`~aimc_plugins.rules.rule.Array` and hands the rule an
:class:`~aimc_plugins.rules.arrays.Arrays` handle after each gradient update. The layer's
periphery (input / output scaling, digital bias, mapping) stays aihwkit's.

How the arrays are configured, array by array:

- **reads by the network** (forward, backward) of an array with a non-zero weight use the
  layer's ``rpu_config.forward`` / ``backward``; a transfer read of such an array uses the same
  periphery (one tile, one periphery), unless the array declares its own ``read``;
- **reads of a hidden array** (weight 0) use the rule's transfer read periphery
  (``RuleCompound.transfer_forward``);
- **the gradient array's pulses** use the layer's ``rpu_config.update`` (what a periphery
  profile sets); every other array's writes use ``RuleCompound.transfer_update``.

aihwkit's compiled compounds read the composed weight ``sum_i c_i A_i`` with one periphery pass;
here each array seen by the network is read by its own pass and the outputs summed. Without read
noise and converters the two are the same; with them, each array carries its own read noise, as
separate crossbars summed digitally would.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import torch
from aihwkit.exceptions import ConfigError
from aihwkit.simulator.configs import SingleRPUConfig, UnitCellRPUConfig
from aihwkit.simulator.configs.compounds import UnitCell
from aihwkit.simulator.parameters import IOParameters, UpdateParameters
from aihwkit.simulator.parameters.enums import BoundManagementType, NoiseManagementType
from aihwkit.simulator.tiles.analog import AnalogTileWithoutPeriphery
from aihwkit.simulator.tiles.base import SimulatorTile
from aihwkit.simulator.tiles.transfer import TorchTransferTile
from torch import Tensor
from torch.nn import Module, ModuleList

from aimc_plugins.rules.arrays import Arrays
from aimc_plugins.rules.rule import Array, TransferRule
from aimc_plugins.training import pulse_counter


def transfer_read() -> IOParameters:
    """The transfer read aihwkit's Tiki-Taka compounds use: its default analog read without noise
    or bound management, so a one-hot read is not rescaled."""
    return IOParameters(
        noise_management=NoiseManagementType.NONE, bound_management=BoundManagementType.NONE
    )


@dataclass
class RuleCompound(UnitCell):
    """An aihwkit unit-cell config that :class:`RuleTile` reads (never aihwkit's C++ core).

    ``unit_cell_devices`` are the arrays' devices, in the order of ``arrays``; ``rule`` is the
    configured :class:`~aimc_plugins.rules.rule.TransferRule` every tile copies.
    """

    arrays: list[Array] = field(default_factory=list)
    rule: TransferRule | None = None
    transfer_forward: IOParameters = field(default_factory=transfer_read)
    transfer_update: UpdateParameters = field(default_factory=UpdateParameters)

    def gradient_name(self) -> str:
        """The name of the array the gradient is pulsed into."""
        assert self.rule is not None
        return self.rule.gradient_array or self.arrays[0].name

    def gradient_device(self) -> Any:
        """The device config of the gradient array (the residual array of Tiki-Taka)."""
        names = [array.name for array in self.arrays]
        return self.unit_cell_devices[names.index(self.gradient_name())]

    @property
    def gamma(self) -> float:
        """The gradient array's weight in the composed weight, as aihwkit's compounds name it
        (``W + gamma P``); 0 when the network does not see the gradient array."""
        weights = {array.name: array.weight for array in self.arrays}
        return float(weights.get(self.gradient_name(), 0.0))


class RuleSimulatorTile(SimulatorTile, Module):
    """The compiled tiles of a rule's arrays, composed into one simulator tile.

    ``forward`` / ``backward`` sum the coefficient-weighted reads of every array the network
    sees; ``update`` pulses the gradient into the gradient array, then calls the rule.
    """

    def __init__(self, x_size: int, d_size: int, rpu_config: Any, dtype: Any) -> None:
        Module.__init__(self)
        compound = rpu_config.device
        if not isinstance(compound, RuleCompound) or compound.rule is None:
            raise ConfigError("RuleTile needs a RuleCompound with a rule (see rule_setup)")
        self.x_size, self.d_size = x_size, d_size
        self.learning_rate = 0.1
        self.rule = copy.deepcopy(compound.rule)
        self.gradient_name = compound.gradient_name()
        self.coefficients = {array.name: float(array.weight) for array in compound.arrays}
        tiles, granularities = {}, {}
        # The devices come from unit_cell_devices, aihwkit's field for them, so that a config
        # edited the aihwkit way (compound.unit_cell_devices = [...]) builds what it says.
        for array, device in zip(compound.arrays, compound.unit_cell_devices, strict=True):
            config = self.array_config(array, device, rpu_config, compound)
            tiles[array.name] = AnalogTileWithoutPeriphery(d_size, x_size, config)
            granularities[array.name] = float(
                config.device.as_bindings(dtype).calc_weight_granularity()
            )
        self.tile_modules = ModuleList(tiles.values())
        self.handle = Arrays(tiles, granularities, (d_size, x_size))
        self.seen = [name for name, weight in self.coefficients.items() if weight != 0.0]
        if not self.seen:
            raise ConfigError("a rule needs at least one array with a non-zero weight")
        self.rule.start(self.handle)

    def array_config(
        self, array: Array, device: Any, rpu_config: Any, compound: RuleCompound
    ) -> Any:
        """The single-device config of one array: its device and the periphery its role gets
        (see the module docstring)."""
        seen = array.weight != 0.0
        forward = array.read or (rpu_config.forward if seen else compound.transfer_forward)
        gradient = array.name == self.gradient_name
        update = array.write or (rpu_config.update if gradient else compound.transfer_update)
        return SingleRPUConfig(
            device=copy.deepcopy(device),
            forward=copy.deepcopy(forward),
            backward=copy.deepcopy(rpu_config.backward),
            update=copy.deepcopy(update),
            tile_class=AnalogTileWithoutPeriphery,
        )

    def composed(self, read: Any) -> Tensor:
        """``sum_i c_i read(tile_i)`` over the arrays the network sees."""
        total = None
        for name in self.seen:
            out = read(self.handle.tile(name))
            weight = self.coefficients[name]
            out = out if weight == 1.0 else weight * out
            total = out if total is None else total + out
        assert total is not None
        return total

    def forward(
        self,
        x_input: Tensor,
        bias: bool = False,
        in_trans: bool = False,
        out_trans: bool = False,
        is_test: bool = False,
        non_blocking: bool = False,
    ) -> Tensor:
        return self.composed(
            lambda tile: tile.forward(x_input, bias, in_trans, out_trans, is_test, non_blocking)
        )

    def backward(
        self,
        d_input: Tensor,
        bias: bool = False,
        in_trans: bool = False,
        out_trans: bool = False,
        non_blocking: bool = False,
    ) -> Tensor:
        return self.composed(
            lambda tile: tile.backward(d_input, bias, in_trans, out_trans, non_blocking)
        )

    def update(
        self,
        x_input: Tensor,
        d_input: Tensor,
        bias: bool = False,
        in_trans: bool = False,
        out_trans: bool = False,
        non_blocking: bool = False,
    ) -> None:
        """Pulse the mini-batch's gradient into the gradient array, then run the rule."""
        if in_trans or out_trans or bias:
            raise ConfigError("a rule tile supports neither transposed inputs nor analog bias")
        if pulse_counter.active() is not None:  # the counter names this layer's arrays
            pulse_counter.name_arrays(self, {n: self.handle.tile(n) for n in self.handle.names})
        tile = self.handle.tile(self.gradient_name)
        tile.set_learning_rate(self.rule.gradient_lr(self.learning_rate))
        tile.update(x_input, d_input, bias, in_trans, out_trans, non_blocking)
        self.handle.step += 1
        self.handle.lr = self.learning_rate
        with torch.no_grad():
            self.rule.after_update(self.handle)

    def get_weights(self, as_ref: bool = False) -> Tensor:
        """``sum_i c_i A_i``, the weight the network computes with (exact, no read noise)."""
        return self.composed(lambda tile: tile.get_weights())

    def set_weights(self, weight: Tensor) -> None:
        """The main array (:meth:`main_array`) holds ``weight`` divided by its coefficient, the
        others are set to 0, and the rule starts afresh: the network computes with
        ``weight``."""
        main = self.main_array()
        for name in self.handle.names:
            tile = self.handle.tile(name)
            if name == main:
                tile.set_weights(weight / self.coefficients[name])
            else:
                tile.set_weights(torch.zeros_like(weight))
        self.handle.step = 0
        self.rule.start(self.handle)

    def main_array(self) -> str:
        """The array that holds the initial weights: the one the network sees most, other than
        the gradient array (aihwkit's compounds put them on their last, slow array; the
        gradient array starts at 0 whatever its weight, e.g. ``P`` of residual learning at
        ``gamma >= 1``). A rule whose only seen array is the gradient array uses that."""
        others = [name for name in self.seen if name != self.gradient_name]
        return max(others or self.seen, key=lambda name: abs(self.coefficients[name]))

    def get_x_size(self) -> int:
        """Input size (columns)."""
        return self.x_size

    def get_d_size(self) -> int:
        return self.d_size

    def get_learning_rate(self) -> float:
        return self.learning_rate

    def set_learning_rate(self, learning_rate: float | None) -> None:
        if learning_rate is not None:
            self.learning_rate = learning_rate

    def get_brief_info(self) -> str:
        arrays = ", ".join(f"{n}x{w:g}" if w else n for n, w in self.coefficients.items())
        return f"RuleSimulatorTile({self.rule.describe()}: {arrays})"

    def post_update_step(self) -> None:
        """Nothing: aihwkit's analog optimizers find the arrays' own tiles among the model's
        analog tiles and call their post-update step (decay, diffusion) themselves; calling it
        here too applied each array's decay and diffusion twice per mini-batch."""

    def set_weights_uniform_random(self, bmin: float, bmax: float) -> None:
        self.set_weights(torch.empty(self.d_size, self.x_size).uniform_(bmin, bmax))

    def get_meta_parameters(self) -> Any:
        return self.handle.tile(self.main_array()).get_meta_parameters()

    def dump_extra(self) -> dict | None:
        return {name: tile.tile.dump_extra() for name, tile in self.named_tiles()}

    def load_extra(self, extra: dict, strict: bool = False) -> None:
        for name, tile in self.named_tiles():
            if name in extra:
                tile.load_extra(extra[name], strict)
            elif strict:
                raise RuntimeError(f"no saved state for array {name!r}")

    def named_tiles(self) -> list[tuple[str, Any]]:
        return list(self.handle.modules.items())


class RuleTile(TorchTransferTile):
    """aihwkit's Python transfer tile with a :class:`RuleSimulatorTile` inside: the
    ``tile_class`` of the ``UnitCellRPUConfig`` that :func:`~aimc_plugins.rules.setup.rule_config`
    builds."""

    def _create_simulator_tile(self, x_size: int, d_size: int, rpu_config: Any) -> Any:
        if not isinstance(rpu_config, UnitCellRPUConfig):
            raise ConfigError("a rule tile needs a UnitCellRPUConfig")
        if getattr(self, "analog_bias", False):  # refused here, not at the first update
            raise ConfigError(
                "a rule tile has no analog bias: keep rpu_config.mapping.digital_bias = True"
            )
        return RuleSimulatorTile(x_size, d_size, rpu_config, dtype=self.get_data_type())
