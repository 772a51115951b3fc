r"""Data-parallel gradient ascent on ``torch.distributed``, launched with ``torchrun``.

Every rank collects its own samples (rollouts), computes its local objective ``J_r`` — to be
**maximized**: call ``J_r.backward()``, never negate it — and then :func:`all_reduce_gradients`
replaces each rank's gradient by the gradient of the objective over the union of all ranks'
samples. Every rank then takes the same ``Ascent`` step from the same parameters, so the
parameters stay bit-identical across ranks without ever being sent again.

The weighted average. If rank ``r`` has ``n_r`` samples and ``J_r = (1/n_r) Σ_{i ∈ r} f_i`` is the
mean of their per-sample objectives, its gradient is ``g_r = ∇J_r`` and

.. math::

    \nabla \Big( \frac{1}{N} \sum_{i} f_i \Big) = \frac{\sum_r n_r\, g_r}{N},
    \qquad N = \sum_r n_r ,

which is what every rank receives. A plain average ``(1/R) Σ_r g_r`` (what
``DistributedDataParallel`` computes) is only right when all ``n_r`` are equal; policy-gradient
ranks rarely collect equal numbers of valid steps or episodes, hence the explicit all-reduce.

Launch and failure. ``torchrun --standalone --nproc_per_node N script.py`` starts ``N`` copies of
the script with ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` set;
:func:`init_distributed` reads them (gloo on CPU, NCCL when CUDA is available). Without them it
returns a single-process context and touches nothing, and every function here is then a no-op, so
a script behaves exactly as it did before it became distributed.

What a user sees when a rank fails. A rank that raises prints its traceback with the prefix
``[rankK]:`` (torch.distributed's excepthook) and exits; the next collective of every other rank
fails at once (gloo: "Connection closed by peer ... typically caused by a remote worker
crashing"). torchrun stops the remaining workers, prints a failure summary and exits with status
1. Decorate the script's entry point with ``torch.distributed.elastic.multiprocessing.errors.record``
so the summary holds each failed rank's traceback. The summary's "Root Cause (first observed
failure)" is the failure with the earliest whole-second timestamp, so it can name a rank that only
failed because its peer vanished; the real cause is the traceback that is not "Connection closed
by peer". A rank that hangs instead of raising makes the others fail once a collective has waited
``timeout_seconds`` (gloo: "Timed out waiting ...ms for recv operation"; NCCL: its watchdog
aborts the process), with the same exit.
"""

from __future__ import annotations

import datetime
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

__all__ = [
    "DistributedContext",
    "all_reduce_gradients",
    "all_reduce_sum",
    "broadcast_parameters",
    "gather_shards",
    "init_distributed",
    "rank_seed",
    "replicas_identical",
    "require_identical_replicas",
    "require_single_process",
    "shard_slice",
]

BACKENDS = ("gloo", "nccl")
_TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
# Counts travel in the gradient buffer; beyond this a float buffer cannot hold them exactly.
_EXACT_INTEGER_LIMIT = {torch.float32: 2**24, torch.float64: 2**53}

ParametersOrModule = nn.Module | Iterable[Tensor]


@dataclass(frozen=True)
class DistributedContext:
    """Where this process sits in the job; built by :func:`init_distributed`.

    Use it as a context manager (``with init_distributed() as context:``) so the process group is
    destroyed when the block ends normally, or call :meth:`shutdown`. When the block raises, the
    group is left for process exit to tear down: the exception reaches torchrun (and the
    ``[rankK]:`` traceback is printed) before the other ranks see this one disappear, and teardown
    cannot block on collectives that will never complete.

    Attributes:
        rank: global index of this process, ``0 <= rank < world_size``.
        world_size: number of processes in the job (1 without torchrun).
        local_rank: index of this process on its machine; with NCCL, the GPU it uses.
        backend: ``"gloo"`` or ``"nccl"`` when a process group was created, ``None`` for a
            single process launched without torchrun.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        """True on rank 0, the one rank that shows progress, logs and writes files."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        """True when this process belongs to a ``torch.distributed`` process group."""
        return self.backend is not None

    def shutdown(self) -> None:
        """Destroy the process group this context created; a no-op for a single process."""
        if self.is_distributed and dist.is_initialized():
            dist.destroy_process_group()

    def __enter__(self) -> DistributedContext:
        return self

    def __exit__(self, exc_type: type | None, *exc_info: object) -> None:
        if exc_type is None:
            self.shutdown()


def init_distributed(
    *, timeout_seconds: float = 300.0, backend: str | None = None
) -> DistributedContext:
    """Join the process group torchrun set up, or return a single-process context.

    Reads ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``. When none of
    ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` is set, returns ``DistributedContext()`` (rank 0 of
    1) and creates nothing. Otherwise calls ``torch.distributed.init_process_group``; with NCCL it
    first makes ``cuda:LOCAL_RANK`` the current device, so ``torch.device("cuda")`` is this rank's GPU.

    Args:
        timeout_seconds: how long the rendezvous and every collective may wait for the other ranks
            before raising. A rank that hangs makes the others fail after this long, so it must
            exceed the longest gap between two collectives (one rollout plus one update).
        backend: ``"gloo"`` or ``"nccl"``; by default NCCL when CUDA is available, else gloo.

    Raises:
        ValueError: on a bad argument, or when only some torchrun variables are set.
        RuntimeError: when a default process group already exists.
    """
    if not (isinstance(timeout_seconds, (int, float)) and math.isfinite(timeout_seconds)
            and timeout_seconds > 0):
        raise ValueError(f"timeout_seconds must be a finite number > 0, got {timeout_seconds!r}")
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS} or None, got {backend!r}")
    if not any(name in os.environ for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK")):
        return DistributedContext()
    missing = [name for name in _TORCHRUN_VARIABLES if name not in os.environ]
    if missing:
        raise ValueError(
            f"torchrun environment variables {missing} are not set although others are: launch "
            "with `torchrun --nproc_per_node N script.py`, or unset RANK, WORLD_SIZE and "
            "LOCAL_RANK to run a single process"
        )
    if dist.is_initialized():
        raise RuntimeError(
            "a torch.distributed process group already exists; call shutdown() on the context "
            "that created it before calling init_distributed() again"
        )
    rank, world_size, local_rank = (int(os.environ[name]) for name in _TORCHRUN_VARIABLES[:3])
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    device_id = None
    if backend == "nccl":
        device_id = torch.device("cuda", local_rank)
        torch.cuda.set_device(device_id)
    dist.init_process_group(
        backend,
        rank=rank,
        world_size=world_size,
        timeout=datetime.timedelta(seconds=timeout_seconds),
        device_id=device_id,
    )
    return DistributedContext(rank, world_size, local_rank, backend)


def rank_seed(seed: int, rank: int) -> int:
    """A seed for rank ``rank`` of a run seeded with ``seed``: deterministic and distinct per rank.

    Rank 0 gets ``seed`` itself, so rank 0 of a distributed run sees the same environments as the
    single-process run. Rank ``r > 0`` gets a 32-bit word drawn from
    ``numpy.random.SeedSequence(seed, spawn_key=(r,))``, not ``seed + r``: with ``seed + r``,
    rank 1 of the run with seed 0 would replay rank 0 of the run with seed 1, correlating runs
    that a seed sweep treats as independent. Use the result for ``random``, ``numpy``, ``torch``
    and ``env.reset(seed=...)``; it fits all of them (``0 <= value < 2**32`` for ``r > 0``).
    """
    for name, value in (("seed", seed), ("rank", rank)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    if rank == 0:
        return seed
    return int(np.random.SeedSequence(seed, spawn_key=(rank,)).generate_state(1)[0])


def _check_context(context: object) -> None:
    if not isinstance(context, DistributedContext):
        raise TypeError(
            "context must be the DistributedContext returned by init_distributed(), "
            f"got {type(context).__name__}"
        )


def _needs_collectives(context: DistributedContext) -> bool:
    return context.is_distributed and context.world_size > 1


def _collective_device(context: DistributedContext) -> torch.device:
    """NCCL reduces CUDA tensors (on the current device, set by init_distributed); gloo CPU ones."""
    return torch.device("cuda") if context.backend == "nccl" else torch.device("cpu")


def _parameters(params: ParametersOrModule) -> list[Tensor]:
    tensors = list(params.parameters() if isinstance(params, nn.Module) else params)
    for index, tensor in enumerate(tensors):
        if not isinstance(tensor, Tensor):
            raise TypeError(f"params[{index}] must be a torch.Tensor, got {type(tensor).__name__}")
    return tensors


def all_reduce_gradients(
    params: ParametersOrModule, local_count: int, context: DistributedContext
) -> int:
    r"""Replace each gradient by the gradient of the mean objective over all ranks' samples.

    Call after ``J.backward()`` and before ``optimizer.step()``. Each rank's ``p.grad`` must be the
    gradient of its local objective normalized by ``local_count`` (the ``M`` its mean divides by:
    valid steps, or episodes with ``score_function_objective(..., num_episodes=M)``). Afterwards,
    on every rank,

    .. math::

        p.\text{grad} = \frac{\sum_r n_r\, g_r}{\sum_r n_r}, \qquad n_r = \text{local\_count of rank } r,

    computed with one all-reduce of one flat buffer holding ``n_r g_r`` for every parameter, a
    has-gradient flag per parameter and ``n_r``. A parameter whose ``grad`` is ``None`` on a rank
    (its local objective did not use it), and every gradient of a rank with ``local_count == 0``,
    counts as zero; the result is ``None`` on every rank only when no rank with samples had a
    gradient for it, so optimizers skip the same parameters everywhere. The buffer is float64 if any
    parameter is, float32 otherwise (half-precision gradients are summed in float32). All ranks
    must pass the same parameters in the same order, on one device. In a single process (or a
    world of one) the gradients are left untouched.

    Returns:
        ``N = Σ_r n_r``, the number of samples the new gradient averages over.

    Raises:
        ValueError: if ``local_count`` is not an int >= 0, or if every rank passed 0 (raised on all
            ranks alike), or if the parameters span several devices.
        TypeError: if a parameter is not floating point or a gradient is sparse.
    """
    _check_context(context)
    if not isinstance(local_count, int) or isinstance(local_count, bool) or local_count < 0:
        raise ValueError(
            f"local_count must be an int >= 0 (the samples this rank's gradient averages over), "
            f"got {local_count!r}"
        )
    parameters = _parameters(params)
    if not _needs_collectives(context):
        if local_count == 0:
            raise ValueError("local_count is 0: there is no sample to average the gradient over")
        return local_count
    for index, parameter in enumerate(parameters):
        if not parameter.is_floating_point():
            raise TypeError(f"params[{index}] must be floating point, got {parameter.dtype}")
        if parameter.grad is not None and parameter.grad.is_sparse:
            raise TypeError(f"params[{index}] has a sparse gradient; only dense gradients are supported")
    devices = {parameter.device for parameter in parameters}
    if len(devices) > 1:
        raise ValueError(f"params must all be on one device, got {sorted(map(str, devices))}")
    device = devices.pop() if devices else _collective_device(context)
    dtype = torch.float64 if any(p.dtype == torch.float64 for p in parameters) else torch.float32

    pieces, has_grad = [], []
    for parameter in parameters:
        contributes = parameter.grad is not None and local_count > 0
        # Zeros, not n_r * g_r, when n_r == 0: a mean over no samples may be NaN, and 0 * NaN is NaN.
        if contributes:
            pieces.append(parameter.grad.detach().reshape(-1).to(dtype) * local_count)
        else:
            pieces.append(torch.zeros(parameter.numel(), dtype=dtype, device=device))
        has_grad.append(float(contributes))
    pieces.append(torch.tensor(has_grad + [float(local_count)], dtype=dtype, device=device))
    buffer = torch.cat(pieces)
    dist.all_reduce(buffer, op=dist.ReduceOp.SUM)

    total = int(buffer[-1].item())
    if total == 0:
        raise ValueError("local_count is 0 on every rank: there is no sample to average over")
    if total >= _EXACT_INTEGER_LIMIT[dtype]:
        raise ValueError(f"the total count {total} is too large to sum exactly in {dtype}")
    sizes = [parameter.numel() for parameter in parameters]
    flags = buffer[sum(sizes):-1].tolist()
    averaged = buffer[: sum(sizes)] / total
    for parameter, flag, chunk in zip(parameters, flags, averaged.split(sizes)):
        parameter.grad = chunk.view_as(parameter).to(parameter.dtype) if flag > 0 else None
    return total


def broadcast_parameters(
    module_or_params: ParametersOrModule, context: DistributedContext, *, src: int = 0
) -> None:
    """Copy rank ``src``'s values into every rank's tensors, in place, so all ranks start identical.

    For a module this covers its parameters and buffers (e.g. normalization statistics); otherwise
    the given tensors. Call it once after building the model and before the first update; call it
    again after loading a checkpoint on ``src`` only. Tensors are flattened into one buffer per
    (device, dtype), so there is one broadcast per group rather than one per tensor. All ranks must
    pass the same tensors in the same order. A no-op in a single process.
    """
    _check_context(context)
    if not isinstance(src, int) or isinstance(src, bool) or not 0 <= src < context.world_size:
        raise ValueError(f"src must be a rank in [0, {context.world_size}), got {src!r}")
    if isinstance(module_or_params, nn.Module):
        tensors = [*module_or_params.parameters(), *module_or_params.buffers()]
    else:
        tensors = _parameters(module_or_params)
    if not _needs_collectives(context):
        return
    groups: dict[tuple[torch.device, torch.dtype], list[Tensor]] = {}
    for tensor in tensors:
        groups.setdefault((tensor.device, tensor.dtype), []).append(tensor)
    with torch.no_grad():
        for group in groups.values():
            flat = torch.cat([tensor.detach().reshape(-1) for tensor in group])
            dist.broadcast(flat, src=src)
            for tensor, chunk in zip(group, flat.split([tensor.numel() for tensor in group])):
                tensor.copy_(chunk.view_as(tensor))


def replicas_identical(module_or_params: ParametersOrModule, context: DistributedContext) -> bool:
    """Whether every rank holds bit-for-bit the same values as rank 0 (a check, not a repair).

    Broadcasts rank 0's tensors (as :func:`broadcast_parameters` would, but into copies), compares
    them exactly on every rank and all-reduces the verdict, so every rank returns the same answer.
    Data-parallel ascent keeps replicas identical by construction; call this once at the end of a
    run to prove it. Always True in a single process.
    """
    _check_context(context)
    if isinstance(module_or_params, nn.Module):
        tensors = [*module_or_params.parameters(), *module_or_params.buffers()]
    else:
        tensors = _parameters(module_or_params)
    if not _needs_collectives(context):
        return True
    mismatches = 0
    with torch.no_grad():
        for tensor in tensors:
            reference = tensor.detach().clone()
            dist.broadcast(reference, src=0)
            mismatches += int(not torch.equal(reference, tensor.detach()))
    verdict = torch.tensor([mismatches], dtype=torch.float64, device=_collective_device(context))
    dist.all_reduce(verdict, op=dist.ReduceOp.SUM)
    return bool(verdict.item() == 0)


def require_identical_replicas(modules: Iterable[nn.Module], context: DistributedContext) -> None:
    """Raise ``RuntimeError`` on every rank unless :func:`replicas_identical` holds for every module."""
    if not all(replicas_identical(module, context) for module in modules):
        raise RuntimeError("data-parallel ranks ended with different parameters; please report this bug")


def require_single_process(option: str, context: DistributedContext) -> None:
    """Raise ``ValueError`` naming ``option`` when running under torchrun with more than one rank."""
    _check_context(context)
    if context.world_size > 1:
        raise ValueError(f"{option}: a run is resumed in a single process, not under torchrun "
                         f"(world size {context.world_size})")


def shard_slice(count: int, context: DistributedContext) -> slice:
    """This rank's contiguous share of ``count`` items (e.g. games of a batch), in rank order.

    Rank ``r`` of ``R`` gets items ``[floor(r count / R), floor((r + 1) count / R))``: shares differ
    by at most one item and together cover all ``count`` exactly once. ``slice(0, count)`` in a
    single process.
    """
    _check_context(context)
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ValueError(f"count must be an int >= 0, got {count!r}")
    rank, world_size = context.rank, context.world_size
    return slice(rank * count // world_size, (rank + 1) * count // world_size)


def gather_shards(shard: Tensor, context: DistributedContext) -> Tensor:
    """Concatenate every rank's ``shard`` along dimension 0, in rank order, on every rank.

    The inverse of splitting a batch with :func:`shard_slice`: shards may differ in length along
    dimension 0 (not in their other dimensions or dtype). One all-gather of the lengths, one of the
    zero-padded shards. Returns ``shard`` itself in a single process.
    """
    _check_context(context)
    if not isinstance(shard, Tensor) or shard.dim() == 0:
        raise TypeError("shard must be a tensor with at least one dimension (the batch)")
    if not _needs_collectives(context):
        return shard
    device = _collective_device(context)
    # gloo has no bool all-gather; bytes carry the same values.
    payload = shard.detach().to(device, torch.uint8 if shard.dtype == torch.bool else shard.dtype)
    length = torch.tensor([payload.shape[0]], dtype=torch.int64, device=device)
    lengths = [torch.empty_like(length) for _ in range(context.world_size)]
    dist.all_gather(lengths, length)
    sizes = [int(size.item()) for size in lengths]
    padded = torch.zeros((max(sizes), *payload.shape[1:]), dtype=payload.dtype, device=device)
    padded[: payload.shape[0]] = payload
    pieces = [torch.empty_like(padded) for _ in range(context.world_size)]
    dist.all_gather(pieces, padded)
    gathered = torch.cat([piece[:size] for piece, size in zip(pieces, sizes)])
    return gathered.to(shard.device, shard.dtype)


def all_reduce_sum(values: Mapping[str, float], context: DistributedContext) -> dict[str, float]:
    """Sum named numbers over all ranks (in float64, one all-reduce); for logging.

    Average across ranks by summing numerators and denominators separately, e.g.
    ``totals = all_reduce_sum({"return_sum": s, "episodes": k}, context)`` and then
    ``totals["return_sum"] / totals["episodes"]``: the mean return over every episode of every
    rank, weighted correctly when ranks finish different numbers of episodes. All ranks must pass
    the same keys (their order does not matter). In a single process, returns the values as floats.
    """
    _check_context(context)
    if not isinstance(values, Mapping):
        raise TypeError(f"values must be a mapping from names to numbers, got {type(values).__name__}")
    names = sorted(values)
    if not _needs_collectives(context):
        return {name: float(values[name]) for name in names}
    summed = torch.tensor(
        [float(values[name]) for name in names], dtype=torch.float64, device=_collective_device(context)
    )
    dist.all_reduce(summed, op=dist.ReduceOp.SUM)
    return dict(zip(names, summed.tolist()))
