"""Compact tickets on disk (sltheory.ticket.fileformat): plan + seed + kept indices, loaded bit for bit."""

import json
import os

import numpy as np
import pytest
import torch
from _tickets import SMALL_N  # noqa: E402
from torch import nn

import sltheory
from sltheory import InvalidArgumentError, TicketFileError, TicketVersionError
from sltheory.ticket.fileformat import FORMAT_VERSION, _file_digest, _index_dtype, _npy_bytes

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
        assert sorted(z.files) == sorted(["header", "sha256"] + [f"mask_{t}" for t in range(len(ticket.masks))])
        header = json.loads(bytes(z["header"]).decode())
        assert header["version"] == FORMAT_VERSION == 4 and header["seed"] == 3
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


def _rewrite(path, edit, *, redigest=False):
    """Edit the header / arrays of a ticket file and write it back as a plain npz, the header in the
    canonical JSON save_ticket writes (so that only the edit differs). ``redigest``: also recompute
    the file digest, as a deliberate forger would (the checks behind the digest then act)."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(bytes(arrays["header"]).decode())
    edit(header, arrays)
    arrays["header"] = np.frombuffer(json.dumps(header, sort_keys=True, separators=(",", ":")).encode(),
                                     dtype=np.uint8)
    if redigest:
        masks = sorted((k for k in arrays if k.startswith("mask_")), key=lambda k: int(k[5:]))
        members = [(f"{k}.npy", _npy_bytes(arrays[k])) for k in ["header", *masks]]
        arrays["sha256"] = np.frombuffer(_file_digest(members).encode(), dtype=np.uint8)
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
    with pytest.raises(TicketFileError, match="altered or corrupted"):
        sltheory.load_ticket(path)
    # with a recomputed file digest, the kept weights' SHA-256 still catches the other seed
    path = tiny_ticket().save(tmp_path / "s.npz")
    _rewrite(path, lambda h, a: h.update(seed=h["seed"] + 1), redigest=True)
    with pytest.raises(TicketFileError, match="SHA-256 differs"):
        sltheory.load_ticket(path)
    path = tiny_ticket().save(tmp_path / "u.npz")
    _rewrite(path, lambda h, a: a.update(mask_0=a["mask_0"][::-1].copy()), redigest=True)
    with pytest.raises(TicketFileError, match="sorted"):
        sltheory.load_ticket(path)


def _set(field, value):
    """An edit of one (possibly nested, dotted) header field for :func:`_rewrite`."""
    def edit(h, a):
        *outer, last = field.split(".")
        d = h
        for k in outer:
            d = d[k]
        d[last] = value(d[last]) if callable(value) else value
    return edit


def _bump_tuple(i):
    return lambda v: {"__tuple__": [x + 1 if j == i else x for j, x in enumerate(v["__tuple__"])]}


@pytest.mark.parametrize("field, value", [
    ("error_bound", lambda v: v / 2),
    ("certificate.error_bound", lambda v: v / 2),
    ("certificate.layer_errors", _bump_tuple(0)),
    ("stats.kept_weights", lambda v: v + 1),
    ("stats.output_scale", 0.5),
    ("output_scale", 2.0),
    ("construction", "malach"),
    ("plan.eps", 0.5),
    ("plan.n", _bump_tuple(0)),
    ("plan.layer_shapes", lambda v: {"__tuple__": [_bump_tuple(1)(v["__tuple__"][0]), *v["__tuple__"][1:]]}),
    ("plan.options", {}),
])
def test_every_header_field_is_covered_by_the_digest(tmp_path, field, value):
    """Issue 11.4: any edit of any field that changes the network or the claim is a TicketFileError."""
    path = tiny_ticket(rescale=True).save(tmp_path / "t.npz")
    _rewrite(path, _set(field, value))
    with pytest.raises(TicketFileError, match="altered or corrupted"):
        sltheory.load_ticket(path)


def test_rewriting_without_an_edit_keeps_the_file_valid(tmp_path):
    """The control of the two tests around: _rewrite alone changes nothing the digest covers."""
    ticket = tiny_ticket(rescale=True)
    path = ticket.save(tmp_path / "t.npz")
    _rewrite(path, lambda h, a: None)
    assert_same(ticket, sltheory.load_ticket(path))


def test_an_edited_kept_index_is_detected(tmp_path):
    """One index moved to another kept-free position, still sorted and unique: only the digest sees it."""
    ticket = tiny_ticket()
    path = ticket.save(tmp_path / "t.npz")
    free = np.flatnonzero(~ticket.masks[1].numpy().reshape(-1))
    kept = np.flatnonzero(ticket.masks[1].numpy().reshape(-1))

    def move(h, a):
        idx = np.sort(np.concatenate([kept[1:], free[:1]])).astype(a["mask_1"].dtype)
        a.update(mask_1=idx)
    _rewrite(path, move)
    with pytest.raises(TicketFileError, match="altered or corrupted"):
        sltheory.load_ticket(path)


def test_same_ticket_same_bytes(tmp_path):
    ticket = tiny_ticket("burkholz")
    a, b = ticket.save(tmp_path / "a.npz"), ticket.save(tmp_path / "b.npz")
    assert a.read_bytes() == b.read_bytes()


def test_failed_save_keeps_existing_file(tmp_path, monkeypatch):
    ticket = tiny_ticket()
    path = ticket.save(tmp_path / "t.npz")
    before = path.read_bytes()

    def boom(fh, members):   # fails halfway through writing the archive
        fh.write(b"PK\x03\x04" + bytes(100))
        raise OSError("disk full (simulated)")
    monkeypatch.setattr(sltheory.ticket.fileformat, "_write_zip", boom)
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


@pytest.mark.parametrize("kinds, message", [([{"__tuple__": ["bogus"]}] * 4, "cannot be re-sampled"),
                                            ([{"__tuple__": ["dense"]}], "layer_kinds"),
                                            ([{"__tuple__": ["slots", 0, True]}] * 4, "slots")])
def test_plan_that_cannot_be_resampled_is_a_typed_error(tmp_path, kinds, message):
    """An unknown layer kind, too few kinds for the layers, a slot layer of n = 0 (digest recomputed, as
    a forger would): TicketFileError, not ValueError/IndexError/ZeroDivisionError."""
    path = tiny_ticket().save(tmp_path / "t.npz")
    _rewrite(path, lambda h, a: h["plan"].update(layer_kinds={"__tuple__": kinds}), redigest=True)
    with pytest.raises(TicketFileError, match=message):
        sltheory.load_ticket(path)


def test_ticket_whose_masks_do_not_match_its_plan_is_not_written(tmp_path):
    t = tiny_ticket()
    deeper = sltheory.random_network(sltheory.gaussian_target((3, 4, 4, 2), 0), n=4, seed=0).plan
    other = sltheory.Ticket(network=t.network, masks=t.masks, error_bound=t.error_bound, stats=t.stats,
                            construction=t.construction, certificate=t.certificate, plan=deeper, seed=t.seed)
    with pytest.raises(InvalidArgumentError, match="would not load back"):
        other.save(tmp_path / "s.npz")
    assert os.listdir(tmp_path) == []


def test_a_forged_bound_loads_as_a_claim_that_recertify_exposes(tmp_path):
    """The digest is no signature: a forger who recomputes it gets a smaller error_bound loaded. That is
    why the bound read from a file is a stored claim, and recertify(target) recomputes it."""
    W = sltheory.gaussian_target((3, 4, 2), 3)
    ticket = tiny_ticket()
    path = ticket.save(tmp_path / "t.npz")
    _rewrite(path, lambda h, a: (h.update(error_bound=h["error_bound"] / 1000),
                                 h["certificate"].update(error_bound=h["certificate"]["error_bound"] / 1000)),
             redigest=True)
    forged = sltheory.load_ticket(path)
    assert forged.error_bound == ticket.error_bound / 1000
    honest = forged.recertify(W).error_bound
    assert honest == pytest.approx(ticket.error_bound, rel=1e-9) and honest > 100 * forged.error_bound


def test_header_values_that_would_not_load_back_are_refused(tmp_path):
    t = tiny_ticket()
    odd = sltheory.Ticket(network=t.network, masks=t.masks, error_bound=t.error_bound,
                          stats={**t.stats, "note": {"__tuple__": 1}}, construction=t.construction,
                          certificate=t.certificate, plan=t.plan, seed=t.seed)
    with pytest.raises(InvalidArgumentError, match="__tuple__"):
        odd.save(tmp_path / "t.npz")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("edit", [
    lambda h, a: h.update(output_scale=h["output_scale"] * 3),
    lambda h, a: h.update(construction="malach"),
    lambda h, a: h.update(error_bound=h["error_bound"] / 2),
    lambda h, a: h["plan"].update(n={"__tuple__": h["plan"]["n"]["__tuple__"][:1]}),
])
def test_fields_that_say_the_same_thing_twice_must_agree(tmp_path, edit):
    """Even with the digest recomputed (it proves no authorship), a header whose output scale, construction,
    bound or per-layer fields contradict each other is refused."""
    path = tiny_ticket(rescale=True).save(tmp_path / "t.npz")
    _rewrite(path, edit, redigest=True)
    with pytest.raises(TicketFileError, match="crafted"):
        sltheory.load_ticket(path)


@pytest.mark.parametrize("old, new", [("malach", "malach_product"), ("orseau", "orseau_halving")])
def test_version_2_names_load_under_their_new_names(old, new, tmp_path):
    """Format 3 (issue 13): "malach" / "orseau" now name the papers' constructions; a version-2 file
    that says them was built by what is now malach_product / orseau_halving, and loads so, marked."""
    ticket = tiny_ticket(new)
    path = ticket.save(tmp_path / "t.npz")

    def as_version_2(h, a):
        h.update(version=2, construction=old)
        h["plan"]["construction"] = old
    _rewrite(path, as_version_2, redigest=True)
    loaded = sltheory.load_ticket(path)
    assert loaded.construction == loaded.plan.construction == new
    assert loaded.stats["construction_renamed_from"] == old
    assert loaded.error_bound == ticket.error_bound
    assert all(torch.equal(a, b) for a, b in zip(loaded.masks, ticket.masks))
    # a version-3 file keeps the name it says
    fresh = sltheory.load_ticket(sltheory.approximate(*_pair(old)).save(tmp_path / "new.npz"))
    assert fresh.construction == old and "construction_renamed_from" not in fresh.stats


def _pair(name):
    target = sltheory.gaussian_target((2, 3, 2), 1)
    return target, sltheory.random_network(target, n=SMALL_N[name][1] // 2, seed=3, construction=name)
