# Copyright (c) mmmae contributors. All rights reserved.
"""What dynamo captures when MMEngine's ``compile=True`` compiles
``train_step``."""
from typing import List

import torch
from mmengine.optim import OptimWrapper


def train_step_graphs(model: torch.nn.Module, data: dict) -> List[List[str]]:
    """Run one compiled ``train_step`` (SGD) and list each captured graph.

    Args:
        model (nn.Module): An MMEngine model.
        data (dict): One batch for ``model.train_step``.

    Returns:
        list[list[str]]: Per graph, the names of the functions it calls
        (e.g. ``'argsort'``, ``'scaled_dot_product_attention'``).
    """
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    graphs = []

    def backend(gm, example_inputs):
        graphs.append([
            getattr(n.target, '__name__', str(n.target))
            for n in gm.graph.nodes if n.op == 'call_function'
        ])
        return gm.forward

    torch._dynamo.reset()
    try:
        log_vars = torch.compile(model.train_step, backend=backend)(data,
                                                                    optim)
    finally:
        torch._dynamo.reset()
    assert all(torch.isfinite(v) for v in log_vars.values())
    return graphs
