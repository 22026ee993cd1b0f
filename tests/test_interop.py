"""A ticket's compact network is an ordinary torch model (issue 14, point 3): state_dict save/load,
torch.export, ONNX (where the onnx package is installed; it is not a dependency)."""

import io
import warnings

import pytest
import torch
from torch import nn

import sltheory


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "rescaled"])
def ticket(request):
    W = sltheory.gaussian_target((4, 6, 3), 0)
    if request.param:
        W = [1.5 * w for w in W]
    return sltheory.approximate(W, sltheory.random_network(W, n=8, seed=0), rescale=request.param)


def inputs(rows=32, seed=0):
    return torch.randn(rows, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def same_architecture(net: nn.Sequential) -> nn.Sequential:
    """A fresh module of the same architecture (what a user writes to load a state_dict into)."""
    mods: list[nn.Module] = []
    for m in net:
        if isinstance(m, nn.Linear):
            mods.append(nn.Linear(m.in_features, m.out_features, bias=m.bias is not None, dtype=torch.float64))
        elif isinstance(m, sltheory.ticket.ScaledOutput):
            mods.append(sltheory.ticket.ScaledOutput(m.scale))   # a plain float: not in the state_dict
        else:
            mods.append(type(m)())
    return nn.Sequential(*mods)


def test_compact_is_a_plain_sequential(ticket):
    compact = ticket.compact()
    assert type(compact.network) is nn.Sequential
    assert {type(m) for m in compact.network} <= {nn.Linear, nn.ReLU, sltheory.ticket.ScaledOutput}
    assert compact.parameters == sum(p.numel() for p in compact.network.parameters())
    assert compact.network[0].in_features == 4 and [m for m in compact.network if isinstance(m, nn.Linear)][-1] \
        .out_features == 3


def test_state_dict_round_trip(ticket, tmp_path):
    net = ticket.compact().network
    path = tmp_path / "compact.pt"
    torch.save(net.state_dict(), path)
    fresh = same_architecture(net)
    fresh.load_state_dict(torch.load(path, weights_only=True))
    x = inputs()
    assert torch.equal(fresh(x), net(x)) and torch.equal(fresh(x), ticket(x))
    # the ticket's own network has the same state_dict keys and values
    own = ticket.network.state_dict()
    assert own.keys() == net.state_dict().keys()
    assert all(torch.equal(own[k], v) for k, v in net.state_dict().items())


def test_torch_export(ticket):
    net = ticket.compact().network
    x = inputs()
    batch = torch.export.Dim("batch", min=2)
    program = torch.export.export(net, (x,), dynamic_shapes=({0: batch},))
    run = program.module()
    for rows in (2, 32, 100):
        z = inputs(rows, seed=rows)
        torch.testing.assert_close(run(z), net(z), rtol=0, atol=ticket.certificate.float_slack)
    assert torch.equal(run(x), net(x))


def test_onnx_export(ticket):
    onnx = pytest.importorskip("onnx")
    from onnx.reference import ReferenceEvaluator

    net = ticket.compact().network
    x = inputs()
    buf = io.BytesIO()
    with warnings.catch_warnings():   # torch ≥ 2.9 calls the TorchScript exporter "legacy" (no onnxscript needed)
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x,), buf, dynamo=False, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    model = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(model)
    run = ReferenceEvaluator(model)
    for rows in (1, 32):
        z = inputs(rows, seed=rows)
        (y,) = run.run(None, {"x": z.numpy()})
        assert y.dtype == z.numpy().dtype
        torch.testing.assert_close(torch.from_numpy(y), net(z), rtol=0, atol=ticket.certificate.float_slack)
