"""More than one device: mixed precision, and training in several processes with PyTorch DDP.

**Mixed precision** (``ExperimentConfig(amp=True)``, ``fas predict --amp``; off by default):
:class:`Precision` runs the forward pass under :func:`torch.autocast` (bfloat16 on CPUs and on
GPUs that support it, else float16 with a gradient scaler); switched off, it is a no-op and
results are those of float32.

**Several processes** (``torchrun --nproc-per-node N -m fas_lib.apps.cli train ...``): torchrun
sets ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` / ``MASTER_ADDR``; :func:`init` then joins the
process group (NCCL on GPUs, gloo on CPUs) and :func:`fas_lib.training.frames.run_experiment` trains
with :class:`~torch.nn.parallel.DistributedDataParallel` (:func:`wrap`):

* ``batch_size`` stays the **global** batch: :class:`GlobalBatchSampler`, a
  :class:`~torch.utils.data.distributed.DistributedSampler`, reproduces the single process's
  shuffled batches of every epoch and gives each process a contiguous share of each one;
* each process's loss is weighted by its share (:func:`loss_scale`), so DDP's gradient average
  is the gradient of the global batch's mean loss, also when the last batch does not split
  evenly;
* the epoch's loss and accuracy are summed over the processes (:func:`reduce_sums`); only
  rank 0 shows progress, scores dev / test and writes the checkpoint and the results
  (a barrier after each checkpoint lets every process resume from it);
* on GPUs BatchNorm is synchronised (:class:`~torch.nn.SyncBatchNorm`), so N processes
  normalise over the global batch like one; gloo on CPUs cannot (PyTorch's SyncBatchNorm is
  GPU-only): there each process normalises over its own share, and dropout masks are drawn per
  process. With neither (``tests/unit/training/test_devices.py``), 2 CPU processes give the scores of
  one process with the same global batch, within float tolerance.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor, nn

__all__ = ["DistContext", "GlobalBatchSampler", "LossNet", "Precision", "StepNet", "barrier",
           "context", "epoch_loader", "global_batches", "init", "loss_scale", "rank0_first",
           "reduce_sums", "share", "shutdown", "wrap", "wrap_step"]

T = TypeVar("T")


# ----------------------------------------------------------------------------- precision


@dataclass
class Precision:
    """Mixed precision on one device (a no-op when ``enabled`` is False).

    Args:
        device: where the model runs (``"cpu"``, ``"cuda"``, ``"cuda:1"``...).
        enabled: autocast the forward pass.
    """

    device: str
    enabled: bool = False

    def __post_init__(self) -> None:
        kind = torch.device(self.device).type
        bf16 = kind == "cpu" or (kind == "cuda" and torch.cuda.is_bf16_supported())
        self.kind = kind
        self.dtype = torch.bfloat16 if bf16 else torch.float16
        self.scaler = torch.amp.GradScaler(
            kind, enabled=self.enabled and self.dtype == torch.float16)

    def autocast(self) -> contextlib.AbstractContextManager:
        """The forward pass's context: :func:`torch.autocast`, or nothing when disabled."""
        if not self.enabled:
            return contextlib.nullcontext()
        return torch.autocast(self.kind, dtype=self.dtype)

    def step(self, loss: Tensor, opt: torch.optim.Optimizer) -> None:
        """``loss.backward()`` and ``opt.step()`` (through the float16 gradient scaler)."""
        self.scaler.scale(loss).backward()
        self.scaler.step(opt)
        self.scaler.update()


# ----------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class DistContext:
    """This process's place among the training processes (one process: rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        """Whether several processes train together."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that scores, writes and shows progress."""
        return self.rank == 0


def context() -> DistContext:
    """The context torchrun's environment variables describe (``RANK``, ``WORLD_SIZE``,
    ``LOCAL_RANK``; unset: one process)."""
    env = os.environ
    return DistContext(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)),
                       int(env.get("LOCAL_RANK", 0)))


def init(device: str) -> tuple[DistContext, str]:
    """Join the process group when torchrun started several processes.

    Returns:
        The context and the device this process trains on (``cuda:LOCAL_RANK`` for CUDA).
    """
    ctx = context()
    if not ctx.active:
        return ctx, device
    if device.startswith("cuda"):
        torch.cuda.set_device(ctx.local_rank)
        device = f"cuda:{ctx.local_rank}"
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return ctx, device


def shutdown() -> None:
    """Leave the process group (when one was joined)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier(ctx: DistContext) -> None:
    """Wait for every process (nothing to wait for with one)."""
    if ctx.active:
        dist.barrier()


def rank0_first(ctx: DistContext, fn: Callable[[], T]) -> T:
    """``fn()`` on rank 0 first, then on the others (e.g. building a cache once)."""
    if ctx.is_main:
        out = fn()
        barrier(ctx)
        return out
    barrier(ctx)
    return fn()


class LossNet(nn.Module):
    """A model and its training loss as one module: ``(x, y, iteration, max_iter, aux_weight)
    -> (loss, parts, fused logits)`` with ``loss_fn`` = :func:`fas_lib.models.msfans_loss`.

    What one training step runs, and what DDP wraps: its outputs reach the auxiliary heads
    only while Eq. 6 uses them, so DDP (``find_unused_parameters``) sees them unused from
    halfway on and leaves their gradients empty, as one process does.
    """

    def __init__(self, model: nn.Module, loss_fn: Callable[..., Any]) -> None:
        super().__init__()
        self.model = model
        self.loss_fn = loss_fn

    def forward(self, x: Tensor, y: Tensor, iteration: int, max_iter: int,
                aux_weight: float) -> tuple[Tensor, dict[str, float], Tensor]:
        """The step's loss, its terms as floats and the fused logits."""
        output = self.model(x)
        loss, parts = self.loss_fn(output, y, iteration, max_iter, aux_weight=aux_weight,
                                   return_parts=True)
        return loss, parts, output.logits


def wrap(model: nn.Module, ctx: DistContext, device: str,
         loss_fn: Callable[..., Any]) -> nn.Module:
    """The module training runs: ``model`` itself with one process; with several, DDP over its
    :class:`LossNet` (BatchNorm synchronised on GPUs). It shares ``model``'s parameters;
    checkpoints save ``model``."""
    if not ctx.active:
        return model
    ids = None
    if device.startswith("cuda"):
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        ids = [torch.device(device).index]
    return nn.parallel.DistributedDataParallel(LossNet(model, loss_fn), device_ids=ids,
                                               find_unused_parameters=True)


class StepNet(nn.Module):
    """Modules and a training step's forward as one module, for DDP: ``forward(*args)`` is
    ``step(*modules, *args)``, which returns tensors (the loss first) that DDP follows to find
    the parameters a step used (the clip and multi-modal methods' :class:`LossNet`)."""

    def __init__(self, step: Callable[..., Any], modules: dict[str, nn.Module]) -> None:
        super().__init__()
        self.step = step
        self.parts = nn.ModuleDict(modules)

    def forward(self, *args: Any) -> Any:
        return self.step(*self.parts.values(), *args)


def wrap_step(step: Callable[..., Any], ctx: DistContext, device: str,
              modules: dict[str, nn.Module]) -> Callable[..., Any]:
    """``step(*modules, *args)`` as training runs it: called directly with one process; with
    several, through DDP over a :class:`StepNet` of ``modules`` (BatchNorm synchronised on
    GPUs), whose gradients (an ADSN's class centers too) are then averaged over the processes."""
    mods = list(modules.values())
    if not ctx.active:
        return lambda *args: step(*mods, *args)
    ids = None
    if device.startswith("cuda"):
        modules = {k: nn.SyncBatchNorm.convert_sync_batchnorm(m) for k, m in modules.items()}
        ids = [torch.device(device).index]
    return nn.parallel.DistributedDataParallel(StepNet(step, modules), device_ids=ids,
                                               find_unused_parameters=True)


def global_batches(n: int, batch_size: int, seed: int) -> list[list[int]]:
    """The shuffled batches of ``n`` samples one process draws with a generator seeded
    ``seed`` (``DataLoader(shuffle=True, generator=...)``, as :mod:`fas_lib.training.frames`
    does)."""
    gen = torch.Generator().manual_seed(int(seed))
    loader = torch.utils.data.DataLoader(range(n), batch_size=batch_size, shuffle=True,
                                         generator=gen)
    return [b.tolist() for b in loader]


def share(batch: list[int], ctx: DistContext) -> tuple[list[int], float]:
    """This process's contiguous share of one global batch (sizes differ by at most one) and
    the weight of its mean loss: its share times the number of processes over the batch size,
    so that DDP's gradient average is the gradient of the global batch's mean loss. A rank left
    without a share gets the batch's first sample at weight 0 (it still joins the average).
    One process: the batch, weight 1."""
    batch = list(batch)
    if not ctx.active:
        return batch, 1.0
    n, w, r = len(batch), ctx.world_size, ctx.rank
    mine = batch[r * n // w:(r + 1) * n // w]
    return (mine, len(mine) * w / n) if mine else (batch[:1], 0.0)


class GlobalBatchSampler(torch.utils.data.distributed.DistributedSampler):
    """A DistributedSampler whose items are this rank's shares of the single process's batches.

    Used as a DataLoader's ``batch_sampler``. A batch smaller than the number of processes
    (the last one of an epoch) leaves some ranks no share: they get the batch's first sample
    with weight 0 (:attr:`scales`), so that they still take part in DDP's gradient average
    without changing it, and :func:`fas_lib.training.frames.train_one_epoch` does not count it.

    Args:
        dataset: the epoch's training set.
        batch_size: the global batch size (``ExperimentConfig.batch_size``).
        seed: the epoch's shuffling seed (:func:`fas_lib.training.config.epoch_seed`).
        ctx: this process's context.
    """

    def __init__(self, dataset: Any, batch_size: int, seed: int, ctx: DistContext) -> None:
        super().__init__(dataset, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=False)
        self.batches = global_batches(len(dataset), batch_size, seed)
        self.ctx = ctx
        #: per batch: this rank's share times the world size over the global batch size
        self.scales = [share(b, ctx)[1] for b in self.batches]

    def __iter__(self) -> Iterator[list[int]]:
        return (share(b, self.ctx)[0] for b in self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def epoch_loader(dataset: Any, batch_size: int, seed: int,
                 ctx: DistContext) -> torch.utils.data.DataLoader:
    """This rank's loader of one epoch; dropout draws differ per rank (seed + rank)."""
    torch.manual_seed(int(seed) + ctx.rank)
    return torch.utils.data.DataLoader(
        dataset, batch_sampler=GlobalBatchSampler(dataset, batch_size, seed, ctx))


def loss_scale(loader: torch.utils.data.DataLoader, i: int) -> float:
    """Weight of batch ``i``'s mean loss (:class:`GlobalBatchSampler`; 1 for other loaders)."""
    sampler = getattr(loader, "batch_sampler", None)
    return sampler.scales[i] if isinstance(sampler, GlobalBatchSampler) else 1.0


def reduce_sums(ctx: DistContext, sums: dict[str, float], seen: int, device: str = "cpu"
                ) -> tuple[dict[str, float], int]:
    """Sum an epoch's per-sample sums and sample count over the processes (on ``device``:
    NCCL reduces GPU tensors only)."""
    if not ctx.active:
        return sums, seen
    keys = list(sums)
    t = torch.tensor([sums[k] for k in keys] + [float(seen)], dtype=torch.float64,
                     device=device)
    dist.all_reduce(t)
    vals = t.tolist()
    return dict(zip(keys, vals[:-1], strict=True)), math.floor(vals[-1] + 0.5)
