"""Freeze policy (glue-factory style) and the trainable-vs-frozen parameter table.

A frozen module has ``requires_grad=False`` on its parameters, stays in ``eval()`` for good (BatchNorm running
statistics would otherwise drift although no weight is updated; ``LoFTRModel.train`` enforces it) and runs without
autograd when nothing upstream of it is trainable (the backbone under the default policy: no activations kept, no
backward). A frozen module with a trainable input (``fine_preprocess``, fed by ``loftr_coarse``) still passes
gradients through, so the fine loss keeps training the coarse transformer as in LoFTR.
"""

from __future__ import annotations

from rich.table import Table
from torch import nn

from vreg_cli.model.config import MODULE_NAMES

__all__ = ["apply_freeze", "parameter_counts", "parameter_table", "trainable_share"]


def apply_freeze(model: nn.Module, frozen: tuple[str, ...]) -> None:
    """Set ``requires_grad`` of every submodule's parameters from the policy and put frozen modules in eval."""
    for name in MODULE_NAMES:
        module = getattr(model, name)
        is_frozen = name in frozen
        for param in module.parameters():
            param.requires_grad_(not is_frozen)
        if is_frozen:
            module.eval()


def parameter_counts(model: nn.Module) -> dict[str, tuple[int, int]]:
    """Per submodule ``(trainable, frozen)`` parameter counts (elements), in forward order."""
    counts = {}
    for name in MODULE_NAMES:
        params = list(getattr(model, name).parameters())
        trainable = sum(p.numel() for p in params if p.requires_grad)
        counts[name] = (trainable, sum(p.numel() for p in params) - trainable)
    return counts


def trainable_share(model: nn.Module) -> float:
    """Fraction of parameters (elements) that will be trained, in [0, 1]."""
    counts = parameter_counts(model).values()
    total = sum(t + f for t, f in counts)
    return sum(t for t, _ in counts) / total if total else 0.0


def parameter_table(model: nn.Module) -> Table:
    """rich Table: per submodule, status, parameter count and share of the model; totals in the footer."""
    counts = parameter_counts(model)
    total = sum(t + f for t, f in counts.values())
    n_trainable = sum(t for t, _ in counts.values())
    table = Table(title="LoFTR parameters", show_footer=True)
    table.add_column("module", footer="total")
    table.add_column("status", footer=f"{n_trainable / total:.1%} trainable" if total else "")
    table.add_column("parameters", justify="right", footer=f"{total:,}")
    table.add_column("share", justify="right", footer="100.0%")
    for name, (trainable, frozen) in counts.items():
        n = trainable + frozen
        if n == 0:
            status = "no weights"
        elif frozen == 0:
            status = "[green]trainable[/]"
        elif trainable == 0:
            status = "[cyan]frozen[/]"
        else:
            status = f"mixed ({trainable:,} trainable)"
        table.add_row(name, status, f"{n:,}", f"{n / total:.1%}" if total else "-")
    return table
