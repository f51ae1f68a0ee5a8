"""Properties of the Transformer-XL network and its memory (no training involved)."""

import numpy as np
import pytest
import torch
from tolerance import assert_close

from txl_ts.txl import Memory, Stream, TokenGrid, TXLConfig, TXLModule, TXLNet, advance
from txl_ts.txl.memory import forecasts_at, token_windows
from txl_ts.txl.net import RelativePositionalEncoding, _rel_shift

P, S, H, LOOKBACK, NORM, SEASON = 4, 2, 4, 12, 6, 4
TOKEN_ROWS = max(P, NORM + S)
GRID = TokenGrid(P, S, H, context=LOOKBACK)
F32 = torch.float32  # the dtype these networks compute in


def make_net(n_layers: int = 2, dropout: float = 0.0, seed: int = 0,
             zero_head: bool = False, scale: bool = False) -> TXLNet:
    torch.manual_seed(seed)
    net = TXLNet(TXLConfig(n_channels=3, patch_len=P, stride=S, horizon=H,
                           forecast_len=GRID.forecast_len, scale=scale,
                           lookback=LOOKBACK, norm_window=NORM, season=SEASON, d_model=16,
                           n_heads=2, n_layers=n_layers, d_ff=32, dropout=dropout)).eval()
    if not zero_head:  # a trained-looking head, so that the attention path shows in outputs
        torch.nn.init.normal_(net.head.weight, std=0.5)
    return net


def tokens(batch: int = 3, n: int = 24, seed: int = 1) -> torch.Tensor:
    """Random token windows (B, N, R)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, n, TOKEN_ROWS, generator=g)


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
    assert_close(got, expected, F32)


def test_chunking_does_not_change_outputs_for_a_fixed_segment_grid():
    net, x = make_net(), tokens()
    whole, mem_whole = segmented(net, x, segment_len=5, mem_len=7)
    pieces, mem_pieces = segmented(net, x, segment_len=5, mem_len=7, chunks=[1, 3, 7, 2, 11])
    assert_close(pieces, whole, F32)
    for a, b in zip(mem_whole.mems, mem_pieces.mems):
        assert_close(a, b, F32)


@pytest.mark.parametrize("mem_len", [0, 3, 100])
def test_causality_future_inputs_do_not_change_past_outputs(mem_len):
    net, x = make_net(), tokens()
    t = 13
    changed = x.clone()
    changed[:, t + 1 :] = torch.randn_like(changed[:, t + 1 :]) * 10
    a, _ = segmented(net, x, segment_len=4, mem_len=mem_len)
    b, _ = segmented(net, changed, segment_len=4, mem_len=mem_len)
    assert_close(a[:, : t + 1], b[:, : t + 1], F32)
    assert not torch.allclose(a[:, t + 1 :], b[:, t + 1 :])


def test_causality_of_stream_forecasts_row_by_row():
    """A forecast from origin o depends on no row at or after o (tokens, linear path, norms)."""
    net = make_net()
    stream = Stream(net, GRID, segment_len=3, mem_len=4)
    g = torch.Generator().manual_seed(2)
    rows = torch.randn(60, 3, generator=g).numpy()
    changed = rows.copy()
    changed[37:] = 100 * np.abs(changed[37:]) + 5
    for data in (rows, changed):
        heads, _ = stream.feed(stream.start(3), data)
        padded = GRID.pad(torch.as_tensor(data.T, dtype=torch.float32))
        out = forecasts_at(net, GRID, heads, padded, np.arange(P, 61))
        if data is rows:
            first = out
    assert_close(out[: 37 - P + 1], first[: 37 - P + 1], F32)
    assert not torch.allclose(out[37 - P + 1 :], first[37 - P + 1 :])


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
    scale = scores[torch.isfinite(scores)].abs().max()  # pairs are rounded at the logits' size
    for i in range(6):
        for j in range(4 + i + 1):
            for i2 in range(6):
                j2 = j + (i2 - i)
                if 0 <= j2 <= 4 + i2:
                    assert_close(scores[0, :, i, j], scores[0, :, i2, j2], F32,
                                 scale=scale)
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


def test_mem_len_zero_and_empty_memory_give_finite_outputs_and_gradients():
    net = make_net().train()
    x = tokens(n=9)
    out, memory = segmented(net, x, segment_len=4, mem_len=0, chunks=[4, 4, 1])
    assert torch.isfinite(out).all()
    assert all(m.shape[1] == 0 for m in memory.mems)
    out.pow(2).mean().backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)


def test_memory_holds_at_most_mem_len_detached_states():
    net, x = make_net(), tokens(n=23)
    _, memory = segmented(net, x, segment_len=5, mem_len=7)
    assert [m.shape[1] for m in memory.mems] == [7, 7]
    assert memory.n_prefix == 3  # 23 = 4 full segments of 5 + 3 tokens of the next


@pytest.mark.parametrize("scale", [False, True])
def test_tokens_are_level_free_and_with_scale_also_scale_free(scale):
    """Head outputs ignore a channel's level (and, with `scale`, its scale): tokens are
    causally normalised."""
    net, x = make_net(scale=scale), tokens()
    assert_close(one_pass(net, x - 7.0), one_pass(net, x), F32)
    if scale:  # the variance floor EPS makes scale-freedom approximate
        torch.testing.assert_close(one_pass(net, 3.0 * x), one_pass(net, x), atol=1e-3, rtol=0)
    else:
        assert not torch.allclose(one_pass(net, 3.0 * x), one_pass(net, x), atol=1e-3)


@pytest.mark.parametrize("scale", [False, True])
def test_forecasts_shift_with_the_series_and_with_scale_also_scale(scale):
    net = make_net(scale=scale)
    look, residual = torch.randn(5, 3, LOOKBACK), torch.randn(5, 3, H)
    # the two sides round the lookback's sums (linear path, level, spread) at different levels
    ops = LOOKBACK
    assert_close(net.forecast(look + 10.0, residual), net.forecast(look, residual) + 10.0, F32,
                 ops=ops)
    if scale:
        assert_close(net.forecast(2.0 * look + 10.0, residual),
                     2.0 * net.forecast(look, residual) + 10.0, F32, ops=ops)
    zero = torch.zeros_like(residual)  # the linear path alone is linear either way
    assert_close(net.forecast(2.0 * look + 10.0, zero), 2.0 * net.forecast(look, zero) + 10.0, F32,
                 ops=ops)


def test_untrained_network_is_the_seasonal_naive():
    net = make_net(zero_head=True)
    stream = Stream(net, GRID, segment_len=3, mem_len=4)
    g = torch.Generator().manual_seed(4)
    rows = (torch.randn(40, 3, generator=g) * 3 + 5).numpy()
    for n in (P, 17, 40):  # from the first token on: padding repeats the first row
        _, state = stream.feed(stream.start(3), rows[:n])
        padded = np.concatenate([np.repeat(rows[:1], LOOKBACK, 0), rows[:n]])
        last_season = padded[-SEASON:]
        expected = np.concatenate([last_season] * (H // SEASON + 1))[:H].T
        assert_close(stream.forecast(state), expected, F32)


def test_stream_feed_equals_windowed_pass_and_leaves_state_untouched():
    net = make_net()
    stream = Stream(net, GRID, segment_len=3, mem_len=5)
    rows = torch.randn(41, 3).numpy()
    start = stream.start(3)
    all_at_once, state = stream.feed(start, rows)
    assert start.n_rows == 0 and start.last_head is None  # feed does not mutate its input
    padded = GRID.pad(torch.as_tensor(rows.T, dtype=torch.float32))
    windows = token_windows(padded, GRID, TOKEN_ROWS, LOOKBACK + P, GRID.n_tokens(41))
    expected, _ = segmented(net, windows, segment_len=3, mem_len=5)
    assert_close(all_at_once.transpose(0, 1), expected, F32)
    assert state.n_rows == 41 and state.buffer.shape == (3, LOOKBACK)


def test_per_segment_backward_gives_the_gradients_of_one_backward():
    def module():
        net = make_net(dropout=0.0)
        return TXLModule(net, GRID, segment_len=3, mem_len=4, burn_in=1, stateful=False,
                         val_start=0, lr=1e-3, weight_decay=0.0)

    g = torch.Generator().manual_seed(3)
    n_tokens = 10  # 4 segments of 3, 3, 3, 1 tokens; the first is burn-in
    batch = torch.randn(2, 3, GRID.window_rows(n_tokens), generator=g)
    batch[0, 1, -3:] = float("nan")  # targets past the end of the data are masked out

    whole = module()
    torch.manual_seed(9)  # the same sampled lags for both
    loss = whole.loss(batch)
    loss.backward()

    pieces = module()
    pieces.manual_backward = lambda piece: piece.backward()  # no Trainer in this unit test
    torch.manual_seed(9)
    loss_pieces = pieces.backward_loss(batch)

    assert_close(loss_pieces, loss.detach(), F32)
    assert torch.isfinite(loss)
    for (name, a), (_, b) in zip(whole.named_parameters(), pieces.named_parameters()):
        if a.grad is None:
            assert b.grad is None, name
            continue
        assert_close(b.grad, a.grad, F32, msg=name)


# ---- the one-token step (streaming) ---------------------------------------------------------
@pytest.mark.parametrize("scale", [False, True])
@pytest.mark.parametrize("mlen", [0, 1, 5, 12])
def test_one_token_step_equals_forward(mlen, scale):
    """`TXLNet.step` (keys/values of the context given) gives `forward`'s numbers for one token
    after any context length, the empty one included, and extends the keys/values exactly."""
    net = make_net(n_layers=3, scale=scale)
    g = torch.Generator().manual_seed(mlen)
    window = tokens(n=1, seed=mlen)
    contexts = [torch.randn(3, mlen, net.d_model, generator=g) for _ in range(3)]
    channels = torch.arange(3)
    with torch.no_grad():
        expected, expected_inputs = net(window, channels, contexts)
        out, inputs, kv = net.step(window, channels, net.keys_values(contexts))
        extended = net.keys_values([torch.cat([c, x[:, None]], 1)
                                    for c, x in zip(contexts, inputs)])
    assert_close(out[:, None], expected, F32)
    for x, x_expected, k, k_expected in zip(inputs, expected_inputs, kv, extended):
        assert_close(x[:, None], x_expected, F32)
        assert_close(k, k_expected, F32)


@pytest.mark.parametrize("segment_len, mem_len", [(1, 0), (4, 0), (4, 3), (5, 7), (3, 100)])
def test_streaming_one_token_at_a_time_equals_the_general_path(segment_len, mem_len):
    """Token by token, the fast step (with its carried keys/values) and the general path agree
    from the empty memory through partial segments, segment roll-overs and a full memory; so
    do mixed chunks, where a general chunk drops the cache and a lone token rebuilds it."""
    net, x = make_net(), tokens(n=23)
    channels = torch.arange(3)
    for chunks in ([1] * 23, [1, 3, 1, 1, 6, 1, 2, 1, 7]):
        fast, slow = Memory.empty(net, 3), Memory.empty(net, 3)
        start = 0
        with torch.no_grad():
            for size in chunks:
                window = x[:, start : start + size]
                out, fast = advance(net, fast, window, channels, segment_len, mem_len)
                expected, slow = advance(net, slow, window, channels, segment_len, mem_len,
                                         one_token=False)
                assert_close(out, expected, F32)
                start += size
                if size == 1:  # the carried cache is the context's keys/values
                    for k, k_expected in zip(fast.kv, net.keys_values(fast.contexts())):
                        assert_close(k, k_expected, F32)
        for a, b in zip(fast.mems + fast.prefix, slow.mems + slow.prefix):
            assert_close(a, b, F32)


def test_the_one_token_step_runs_only_where_it_is_exact(monkeypatch):
    """Training mode or autograd take the general path (dropout, gradients into W_r); eval
    mode without autograd takes the step for a lone token and only then."""
    net, x = make_net(), tokens(n=3)
    channels = torch.arange(3)
    calls = []
    step = net.step
    monkeypatch.setattr(net, "step", lambda *a: calls.append(1) or step(*a))
    memory = Memory.empty(net, 3)
    out, _ = advance(net, memory, x[:, :1], channels, segment_len=4, mem_len=4)
    out.sum().backward()  # eval mode with autograd: general path, gradients reach W_r
    assert not calls and net.layers[0].attn.pos_key.weight.grad is not None
    with torch.no_grad():
        advance(net.train(), memory, x[:, :1], channels, segment_len=4, mem_len=4)
        assert not calls
        advance(net.eval(), memory, x[:, :2], channels, segment_len=4, mem_len=4)
        assert not calls  # two tokens in one chunk
        advance(net, memory, x[:, :1], channels, segment_len=4, mem_len=4)
    assert calls == [1]


def test_cached_step_weights_follow_weight_changes():
    """The folded weights of the step (and the cached W_r R) are rebuilt after any in-place
    update, `load_state_dict` (also with `assign=True`, which swaps the parameters) and a
    change of dtype."""
    net, x = make_net(), tokens(n=1)
    channels = torch.arange(3)
    contexts = [torch.randn(3, 4, net.d_model) for _ in range(2)]

    def step_matches_forward(dtype=torch.float32) -> None:
        xs, cs = x.to(dtype), [c.to(dtype) for c in contexts]
        with torch.no_grad():
            out, _, _ = net.step(xs, channels, net.keys_values(cs))
            assert_close(out[:, None], net(xs, channels, cs)[0], dtype)

    step_matches_forward()
    with torch.no_grad():
        net.layers[1].attn.pos_key.weight.mul_(3.0)
    step_matches_forward()
    with torch.no_grad():
        net.value.weight.mul_(1.5)  # the folded embedding
        net.layers[0].attn.r_r_bias.mul_(-2.0)  # folded into the projection
    step_matches_forward()
    net.load_state_dict(make_net(seed=5).state_dict())
    step_matches_forward()
    net.load_state_dict(make_net(seed=6).state_dict(), assign=True)
    step_matches_forward()
    net.double()
    step_matches_forward(torch.float64)


@pytest.mark.parametrize("level", [0.0, 30.0, 300.0])
def test_forward_and_step_do_not_round_at_the_scale_of_the_level(level):
    """A series that drifts far from its training mean (in scaled units) is embedded as
    accurately as one near it: the token embedding ignores the level, so in float32 both
    paths stay within float32 rounding of a float64 reference, whatever the level."""
    net = make_net()
    reference = make_net().double()
    window = tokens(n=1) + level
    channels = torch.arange(3)
    contexts = [torch.randn(3, 3, net.d_model) for _ in range(2)]
    with torch.no_grad():
        truth = reference(window.double(), channels, [c.double() for c in contexts])[0]
        forward = net(window, channels, contexts)[0]
        step = net.step(window, channels, net.keys_values(contexts))[0][:, None]
    for out in (forward, step):
        assert_close(out, truth, F32)


def test_one_token_step_clamps_a_level_jump_like_forward():
    """The step's folded embedding is linear in the rows except for the clamp of the level
    change; a jump far beyond it (the token after a step change of the series) must come
    out as in `forward`."""
    net = make_net()
    window = tokens(n=1)
    window[..., -S:] += torch.tensor([40.0, -40.0, 0.0])[:, None, None]  # clamped, clamped, not
    channels = torch.arange(3)
    contexts = [torch.randn(3, 2, net.d_model) for _ in range(2)]
    with torch.no_grad():
        out, _, _ = net.step(window, channels, net.keys_values(contexts))
        expected = net(window, channels, contexts)[0]
    assert_close(out[:, None], expected, F32)
