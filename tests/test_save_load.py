"""Compact tickets on disk (sltheory.ticket_io): plan + seed + kept indices, loaded bit for bit."""

import json
import os

import numpy as np
import pytest
import torch
from torch import nn

import sltheory
from sltheory import InvalidArgumentError, TicketFileError, TicketVersionError
from sltheory.ticket_io import FORMAT_VERSION, _index_dtype

from _tickets import SMALL_N  # noqa: E402

CONSTRUCTIONS = sorted(sltheory.constructions())


def tiny_ticket(construction="subset_sum", *, rescale=False, seed=3):
    target = sltheory.gaussian_target((3, 4, 2), seed)
    if rescale:
        target = [2.5 * target[0], 0.5 * target[1] * 3.0]
    n = SMALL_N[construction][1] // 2
    rand = sltheory.random_network(target, n=n, seed=seed, construction=construction)
    return sltheory.approximate(target, rand, rescale=rescale)


def assert_same(a, b):
    la = [m for m in a.network.modules()]
    lb = [m for m in b.network.modules()]
    assert [type(m) for m in la] == [type(m) for m in lb]
    for ma, mb in zip(la, lb):
        if isinstance(ma, nn.Linear):
            assert mb.bias is None and ma.weight.dtype == mb.weight.dtype == torch.float64
            assert torch.equal(ma.weight, mb.weight)
            # bit for bit, signed zeros included
            assert torch.equal(ma.weight.view(torch.int64), mb.weight.view(torch.int64))
        if isinstance(ma, sltheory.ticket.ScaledOutput):
            assert ma.scale == mb.scale
    assert len(a.masks) == len(b.masks) and all(torch.equal(x, y) for x, y in zip(a.masks, b.masks))
    assert a.error_bound == b.error_bound
    assert a.stats == b.stats and a.construction == b.construction
    assert a.plan == b.plan and a.seed == b.seed
    assert a.certificate == b.certificate


@pytest.mark.parametrize("construction", CONSTRUCTIONS)
def test_round_trip_bit_for_bit(construction, tmp_path):
    ticket = tiny_ticket(construction)
    path = ticket.save(tmp_path / "t.npz")
    loaded = sltheory.load_ticket(path)
    assert_same(ticket, loaded)
    x = torch.randn(16, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert torch.equal(ticket(x), loaded(x))
    # compact: far below the dense masked network's float64 bytes
    dense = 8 * sum(m.numel() for m in ticket.masks)
    assert os.path.getsize(path) < dense


def test_rescaled_round_trip(tmp_path):
    ticket = tiny_ticket(rescale=True)
    assert ticket.stats["output_scale"] != 1.0
    loaded = sltheory.load_ticket(ticket.save(tmp_path / "r.npz"))
    assert isinstance(list(loaded.network)[-1], sltheory.ticket.ScaledOutput)
    assert_same(ticket, loaded)


def test_index_dtype_is_smallest():
    assert _index_dtype(256) == np.uint8 and _index_dtype(257) == np.uint16
    assert _index_dtype(2**16 + 1) == np.uint32 and _index_dtype(2**32 + 1) == np.uint64


def test_file_holds_sorted_indices_and_json_header(tmp_path):
    ticket = tiny_ticket()
    path = ticket.save(tmp_path / "t.npz")
    with np.load(path, allow_pickle=False) as z:
        header = json.loads(bytes(z["header"]).decode())
        assert header["version"] == FORMAT_VERSION and header["seed"] == 3
        for t, mask in enumerate(ticket.masks):
            idx = z[f"mask_{t}"]
            assert idx.dtype == _index_dtype(mask.numel())
            assert np.array_equal(idx, np.flatnonzero(mask.numpy()))


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(TicketFileError, match="no ticket file"):
        sltheory.load_ticket(tmp_path / "nope.npz")
    ticket = tiny_ticket()
    with pytest.raises(TicketFileError, match="does not exist"):
        ticket.save(tmp_path / "no_such_folder" / "t.npz")
    assert not (tmp_path / "no_such_folder").exists()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "not_a_ticket"])
def test_corrupt_file(tmp_path, damage):
    path = tiny_ticket().save(tmp_path / "t.npz")
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00not a zip archive" * 10)
    else:
        with path.open("wb") as fh:
            np.savez_compressed(fh, header=np.frombuffer(b'{"format": "other"}', dtype=np.uint8))
    with pytest.raises(TicketFileError):
        sltheory.load_ticket(path)


def _rewrite(path, edit):
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(bytes(arrays["header"]).decode())
    edit(header, arrays)
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with path.open("wb") as fh:
        np.savez_compressed(fh, **arrays)


def test_version_mismatch(tmp_path):
    path = tiny_ticket().save(tmp_path / "t.npz")
    _rewrite(path, lambda h, a: h.update(version=FORMAT_VERSION + 1))
    with pytest.raises(TicketVersionError) as info:
        sltheory.load_ticket(path)
    assert info.value.version == FORMAT_VERSION + 1 and info.value.supported == FORMAT_VERSION


def test_altered_seed_or_indices_are_detected(tmp_path):
    path = tiny_ticket().save(tmp_path / "t.npz")
    _rewrite(path, lambda h, a: h.update(seed=h["seed"] + 1))
    with pytest.raises(TicketFileError, match="SHA-256"):
        sltheory.load_ticket(path)
    path = tiny_ticket().save(tmp_path / "u.npz")
    _rewrite(path, lambda h, a: a.update(mask_0=a["mask_0"][::-1].copy()))
    with pytest.raises(TicketFileError, match="sorted"):
        sltheory.load_ticket(path)


def test_failed_save_keeps_existing_file(tmp_path, monkeypatch):
    ticket = tiny_ticket()
    path = ticket.save(tmp_path / "t.npz")
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full (simulated)")
    monkeypatch.setattr(np, "savez_compressed", boom)
    with pytest.raises(OSError, match="disk full"):
        tiny_ticket(seed=4).save(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["t.npz"]  # no temp file left behind
    monkeypatch.undo()
    assert_same(ticket, sltheory.load_ticket(path))


def test_hand_built_ticket_cannot_be_saved(tmp_path):
    t = tiny_ticket()
    hand = sltheory.Ticket(network=t.network, masks=t.masks, error_bound=t.error_bound, stats=t.stats,
                           construction=t.construction, certificate=t.certificate)
    with pytest.raises(InvalidArgumentError, match="plan/seed"):
        hand.save(tmp_path / "h.npz")


@pytest.mark.parametrize("kinds", [[{"__tuple__": ["bogus"]}], [{"__tuple__": ["dense"]}]])
def test_plan_that_cannot_be_resampled_is_a_typed_error(tmp_path, kinds):
    """An unknown layer kind, or too few kinds for the layers: TicketFileError, not ValueError/IndexError."""
    path = tiny_ticket().save(tmp_path / "t.npz")
    _rewrite(path, lambda h, a: h["plan"].update(layer_kinds={"__tuple__": kinds}))
    with pytest.raises(TicketFileError, match="cannot be re-sampled"):
        sltheory.load_ticket(path)


def test_ticket_whose_masks_do_not_match_its_plan_is_not_written(tmp_path):
    t = tiny_ticket()
    deeper = sltheory.random_network(sltheory.gaussian_target((3, 4, 4, 2), 0), n=4, seed=0).plan
    other = sltheory.Ticket(network=t.network, masks=t.masks, error_bound=t.error_bound, stats=t.stats,
                            construction=t.construction, certificate=t.certificate, plan=deeper, seed=t.seed)
    with pytest.raises(InvalidArgumentError, match="would not load back"):
        other.save(tmp_path / "s.npz")
    assert os.listdir(tmp_path) == []
