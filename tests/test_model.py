"""Properties of the Transformer-XL network and its memory (no training involved)."""

import pytest
import torch

from txl_ts.memory import Memory, Stream, advance, patchify
from txl_ts.model import RelativePositionalEncoding, TXLNet, _rel_shift

P, S = 4, 2


def make_net(n_layers: int = 2, dropout: float = 0.0, seed: int = 0) -> TXLNet:
    torch.manual_seed(seed)
    return TXLNet(patch_len=P, n_channels=3, forecast_len=5, d_model=16, n_heads=2,
                  n_layers=n_layers, d_ff=32, dropout=dropout).eval()


def tokens(batch: int = 3, n: int = 24, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, n, P, generator=g)


def one_pass(net: TXLNet, x: torch.Tensor) -> torch.Tensor:
    channels = torch.arange(x.shape[0])
    out, _ = net(x, channels, net.empty_context(x.shape[0]))
    return out


def segmented(net, x, segment_len, mem_len, chunks=None):
    channels = torch.arange(x.shape[0])
    memory = Memory.empty(net, x.shape[0])
    outs, start = [], 0
    for size in chunks or [x.shape[1]]:
        out, memory = advance(net, memory, x[:, start : start + size], channels,
                              segment_len, mem_len)
        outs.append(out)
        start += size
    return torch.cat(outs, dim=1), memory


@pytest.mark.parametrize("segment_len", [1, 4, 5, 24])
def test_segmented_equals_one_pass_when_memory_covers_everything(segment_len):
    net, x = make_net(), tokens()
    expected = one_pass(net, x)
    got, _ = segmented(net, x, segment_len=segment_len, mem_len=x.shape[1])
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_chunking_does_not_change_outputs_for_a_fixed_segment_grid():
    net, x = make_net(), tokens()
    whole, mem_whole = segmented(net, x, segment_len=5, mem_len=7)
    pieces, mem_pieces = segmented(net, x, segment_len=5, mem_len=7, chunks=[1, 3, 7, 2, 11])
    torch.testing.assert_close(pieces, whole, atol=1e-5, rtol=0)
    for a, b in zip(mem_whole.mems, mem_pieces.mems):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


@pytest.mark.parametrize("mem_len", [0, 3, 100])
def test_causality_future_inputs_do_not_change_past_outputs(mem_len):
    net, x = make_net(), tokens()
    t = 13
    changed = x.clone()
    changed[:, t + 1 :] = torch.randn_like(changed[:, t + 1 :]) * 10
    a, _ = segmented(net, x, segment_len=4, mem_len=mem_len)
    b, _ = segmented(net, changed, segment_len=4, mem_len=mem_len)
    torch.testing.assert_close(a[:, : t + 1], b[:, : t + 1], atol=1e-6, rtol=0)
    assert not torch.allclose(a[:, t + 1 :], b[:, t + 1 :])


def test_rel_shift_matches_explicit_gather_of_distances():
    b, h, qlen, mlen = 2, 3, 5, 4
    klen = qlen + mlen
    raw = torch.randn(b, h, qlen, klen)  # raw[..., i, k] holds distance klen - 1 - k
    shifted = _rel_shift(raw)
    for i in range(qlen):
        for j in range(mlen + i + 1):  # keys a query may see
            distance = mlen + i - j
            assert torch.equal(shifted[:, :, i, j], raw[:, :, i, klen - 1 - distance])


def test_relative_logits_depend_only_on_distance():
    net = make_net(n_layers=1)
    attn = net.layers[0].attn
    d = net.d_model
    # Identical token content everywhere: any variation of the logits comes from position.
    x = torch.randn(1, 1, d).expand(1, 6, d)
    context = x[:, :4]
    pos = RelativePositionalEncoding(d)(4 + 6)
    scores, _ = attn.logits(x, context, pos)  # (1, H, 6, 10)
    for i in range(6):
        for j in range(4 + i + 1):
            for i2 in range(6):
                j2 = j + (i2 - i)
                if 0 <= j2 <= 4 + i2:
                    torch.testing.assert_close(scores[0, :, i, j], scores[0, :, i2, j2],
                                               atol=1e-5, rtol=0)
    assert torch.isinf(scores[0, :, 0, 5]).all()  # the future is masked


def test_no_gradient_flows_into_memory():
    net = make_net().train()
    x = tokens(n=8).requires_grad_(True)
    channels = torch.arange(x.shape[0])
    memory = Memory.empty(net, x.shape[0])
    first, memory = advance(net, memory, x[:, :4], channels, segment_len=4, mem_len=4)
    assert all(not m.requires_grad for m in memory.mems)
    second, _ = advance(net, memory, x[:, 4:], channels, segment_len=4, mem_len=4)
    second.sum().backward()
    assert torch.count_nonzero(x.grad[:, :4]) == 0  # earlier segment: reached only via memory
    assert torch.count_nonzero(x.grad[:, 4:]) > 0
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)


def test_mem_len_zero_and_empty_memory_give_finite_outputs_and_gradients():
    net = make_net().train()
    x = tokens(n=9)
    out, memory = segmented(net, x, segment_len=4, mem_len=0, chunks=[4, 4, 1])
    assert torch.isfinite(out).all()
    assert all(m.shape[1] == 0 for m in memory.mems)
    out.pow(2).mean().backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters())


def test_memory_holds_at_most_mem_len_detached_states():
    net, x = make_net(), tokens(n=23)
    _, memory = segmented(net, x, segment_len=5, mem_len=7)
    assert [m.shape[1] for m in memory.mems] == [7, 7]
    assert memory.n_prefix == 3  # 23 = 4 full segments of 5 + 3 tokens of the next


def test_stream_feed_equals_patchified_pass_and_leaves_state_untouched():
    net = make_net()
    stream = Stream(net, P, S, segment_len=3, mem_len=5)
    rows = torch.randn(41, 3).numpy()
    start = stream.start(3)
    all_at_once, state = stream.feed(start, rows)
    assert start.n_rows == 0 and start.last_forecast is None  # feed does not mutate its input
    patches = patchify(torch.as_tensor(rows.T, dtype=torch.float32), P, S)
    expected, _ = segmented(net, patches, segment_len=3, mem_len=5)
    torch.testing.assert_close(all_at_once.transpose(0, 1), expected, atol=1e-5, rtol=0)
    assert state.n_rows == 41 and state.lag == (41 - P) % S


def test_per_segment_backward_gives_the_gradients_of_one_backward():
    from txl_ts.forecaster import TXLModule

    def module():
        net = make_net(dropout=0.0)
        return TXLModule(net, patch_len=P, stride=S, segment_len=3, mem_len=4, burn_in=1,
                         stateful=False, val_start=0, lr=1e-3, weight_decay=0.0)

    g = torch.Generator().manual_seed(3)
    n_tokens = 10  # 4 segments of 3, 3, 3, 1 tokens; the first is burn-in
    batch = torch.randn(2, 3, (n_tokens - 1) * S + P + 5, generator=g)
    batch[0, 1, -3:] = float("nan")  # targets past the end of the data are masked out

    whole = module()
    loss = whole.loss(batch)
    loss.backward()

    pieces = module()
    pieces.manual_backward = lambda piece: piece.backward()  # no Trainer in this unit test
    loss_pieces = pieces.backward_loss(batch)

    torch.testing.assert_close(loss_pieces, loss.detach())
    for (name, a), (_, b) in zip(whole.named_parameters(), pieces.named_parameters()):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-6, rtol=1e-5, msg=name)
