"""Scalers: fitted on the training slice only, exact statistics, inverse round trip, checkpointable;
and agreeing to 1e-12 with the hand-written implementation bt shipped before scikit-learn
(``legacy_scalers``, a frozen oracle)."""

import numpy as np
import pytest
import torch

from mlbt.models import MinMaxScaler, RobustScaler, StandardScaler, make_scaler, scaler_from_state
from tests.models import legacy_scalers as legacy

KINDS = ["standard", "robust", "minmax"]


def data(n=100, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, generator=g, dtype=torch.float64) * torch.tensor([1.0, 10.0, 0.1]) + 5


@pytest.mark.parametrize("kind", KINDS)
def test_fit_sees_only_the_training_slice(kind):
    x = data()
    train_end = 60
    before = make_scaler(kind).fit(x[:train_end])
    x[train_end:] = 1e6  # later rows change wildly
    after = make_scaler(kind).fit(x[:train_end])
    assert torch.equal(before.center, after.center) and torch.equal(before.scale, after.scale)
    assert torch.equal(before.transform(x[:train_end]), after.transform(x[:train_end]))


@pytest.mark.parametrize("kind", KINDS)
def test_inverse_round_trip(kind):
    x = data()
    s = make_scaler(kind).fit(x[:70])
    assert torch.allclose(s.inverse_transform(s.transform(x)), x, atol=1e-12)
    a = x.numpy().astype(np.float32)
    back = s.inverse_transform(s.transform(a))
    assert isinstance(back, np.ndarray) and back.dtype == np.float32
    np.testing.assert_allclose(back, a, rtol=1e-5, atol=1e-4)  # float32 rounding on values up to ~40


def test_statistics_by_hand():
    x = torch.tensor([[1.0, 10.0], [2.0, 10.0], [3.0, 10.0], [10.0, 10.0]])
    std = StandardScaler().fit(x)
    assert std.center.tolist() == [4.0, 10.0]
    assert std.scale[0].item() == pytest.approx(np.sqrt((9 + 4 + 1 + 36) / 4))  # ddof 0
    assert std.scale[1].item() == 1.0  # constant feature: no division by zero
    rob = RobustScaler().fit(x)
    # numpy's linear percentiles of [1, 2, 3, 10]: q25 = 1.75, median 2.5, q75 = 4.75
    assert rob.center[0].item() == 2.5 and rob.scale[0].item() == pytest.approx(3.0)
    mm = MinMaxScaler().fit(x)
    assert mm.transform(x)[:, 0].tolist() == pytest.approx([0.0, 1 / 9, 2 / 9, 1.0])
    mm2 = MinMaxScaler(feature_range=(-1, 1)).fit(x)
    assert mm2.transform(torch.tensor([[1.0, 10.0], [10.0, 10.0]]))[:, 0].tolist() == pytest.approx([-1.0, 1.0])


def test_nan_rows_are_ignored_when_fitting():
    x = torch.tensor([[np.nan], [1.0], [3.0]])
    s = StandardScaler().fit(x)
    assert s.center.item() == 2.0 and s.scale.item() == 1.0
    assert torch.isnan(s.transform(x)[0, 0])


def test_fits_windows_and_transforms_any_shape():
    x = data(40).float()
    s = RobustScaler().fit(x[:30])
    windows = x.unfold(0, 5, 1).transpose(1, 2)  # (36, 5, 3)
    assert torch.allclose(s.transform(windows)[0], s.transform(x[:5]))
    assert s.transform(windows).dtype == torch.float32


def test_state_dict_saves_with_the_model_weights_only(tmp_path):
    x = data()
    net = torch.nn.Linear(3, 1)
    scalers = {kind: make_scaler(kind).fit(x[:50]) for kind in KINDS}
    scalers["minmax"] = MinMaxScaler((-2.0, 3.0)).fit(x[:50])
    path = tmp_path / "model.pt"
    torch.save({"model": net.state_dict(), "scalers": {k: s.state_dict() for k, s in scalers.items()}}, path)
    loaded = torch.load(path, weights_only=True)
    for kind, s in scalers.items():
        back = scaler_from_state(loaded["scalers"][kind])
        assert type(back) is type(s)
        assert torch.equal(back.transform(x), s.transform(x))
    assert scaler_from_state(loaded["scalers"]["minmax"]).feature_range == (-2.0, 3.0)


def test_unfitted_and_unknown_are_refused():
    with pytest.raises(RuntimeError, match="not fitted"):
        StandardScaler().transform(torch.zeros(2, 2))
    with pytest.raises(ValueError, match="unknown"):
        make_scaler("quantile")
    with pytest.raises(ValueError, match="not 'robust'"):
        RobustScaler().load_state_dict(StandardScaler().fit(torch.ones(3, 1)).state_dict())


# -- before/after: scikit-learn against the frozen hand-written implementation ----------

def messy(seed, shape=(200, 6)):
    """Random features with NaN (warm-up rows and scattered), ties, an exactly constant
    feature, an all-NaN feature and very different scales."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=shape) * np.logspace(-3, 4, shape[-1]) + rng.normal(size=shape[-1]) * 10
    a[..., 1] = np.round(a[..., 1], -2)  # many ties (quartiles on repeated values)
    a[..., 2] = 8.0  # constant, and exactly representable: both codes give scale 1
    a[..., 3] = np.nan  # all-NaN: center 0, scale 1
    a[:20] = np.nan
    a[rng.random(shape) < 0.05] = np.nan
    return a


def options(kind):
    return [{}, {"feature_range": (-2.0, 3.0)}] if kind == "minmax" else [{}]


def close(new, old):
    np.testing.assert_allclose(np.asarray(new), np.asarray(old), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", range(5))
def test_agrees_with_the_legacy_code(kind, seed):
    for shape in [(200, 6), (40, 5, 6)]:  # bars x features, windows x time x features
        x = messy(seed, shape)
        for opts in options(kind):
            new = make_scaler(kind, **opts).fit(x[: len(x) // 2])
            old = legacy.make_scaler(kind, **opts).fit(x[: len(x) // 2])
            close(new.center, old.center)
            close(new.scale, old.scale)
            close(new.transform(x), old.transform(x))  # NaN where the old code had NaN
            close(new.inverse_transform(x), old.inverse_transform(x))
            t = torch.from_numpy(x).float()
            assert new.transform(t).dtype == torch.float32
            assert torch.equal(new.transform(t).isnan(), old.transform(t).isnan())
            state, old_state = new.state_dict(), old.state_dict()
            assert state.keys() == old_state.keys() and state["kind"] == old_state["kind"]
    y = messy(seed, (100, 6))[:, 0]  # a 1-D series
    new, old = make_scaler(kind).fit(y), legacy.make_scaler(kind).fit(y)
    assert new.center.shape == old.center.shape
    close(new.transform(y), old.transform(y))


def test_rounding_noise_is_no_scale():
    """The one deliberate difference: a constant feature whose mean is not exact (0.1) has a
    standard deviation of rounding noise (~1e-17). The legacy code divided by it, mapping the
    constant to +-1; scikit-learn treats the feature as constant (scale 1), mapping it to ~0."""
    x = np.full((100, 1), 0.1)
    old = legacy.StandardScaler().fit(x)
    assert 0 < old.scale.item() < 1e-15 and abs(old.transform(x)).min() == 1.0
    new = StandardScaler().fit(x)
    assert new.scale.item() == 1.0 and np.abs(new.transform(x)).max() < 1e-15


@pytest.mark.parametrize("kind", KINDS)
def test_saved_state_loads_weights_only_and_reproduces_transform(kind, tmp_path):
    x = messy(0)
    for opts in options(kind):
        s = make_scaler(kind, **opts).fit(x[:100])
        state = s.state_dict()
        assert all(isinstance(v, str | float) or (v.dtype == torch.float64 and v.device.type == "cpu")
                   for v in state.values())
        torch.save({"scaler": state}, tmp_path / "s.pt")
        back = scaler_from_state(torch.load(tmp_path / "s.pt", weights_only=True)["scaler"])
        close(back.transform(x), s.transform(x))
        close(back.transform(x), legacy.scaler_from_state(state).transform(x))
        t = torch.from_numpy(x)
        close(back.inverse_transform(back.transform(t)).numpy()[~np.isnan(x)], x[~np.isnan(x)])
