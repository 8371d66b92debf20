"""Training: it learns a learnable pattern and not shuffled labels, splits by time, stops early
with the best weights, is deterministic per seed; plus batched predict."""

import logging

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mlbt.models import (
    AttentionEnsemble,
    ETF50Classifier,
    ModelConfig,
    SLTPOutput,
    TrainConfig,
    fit,
    predict,
    sliding_windows,
)
from mlbt.models.losses import balanced_class_weights

LENGTH = 6


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def pattern(n_bars=800, seed=1):
    """Windows of noise whose label is the sign of feature 0 two bars before the window's end:
    learnable only by remembering along the sequence."""
    x = torch.randn(n_bars, 3, generator=torch.Generator().manual_seed(seed))
    X = sliding_windows(x, LENGTH)
    return X, (X[:, -3, 0] > 0).float()


# A tiny 50ETF classifier: tanh score trained with MSE on +1/-1 states.
TINY = ModelConfig("etf50", profile="fast", options={"hidden": 8, "head": 8})
QUICK = TrainConfig(loss="mse", lr=0.02, epochs=12, batch_size=32, patience=None, seed=0)


def val_accuracy(result, X, states, device="cpu"):
    pred = ETF50Classifier.state(predict(result.model, X[result.val_start :], device=device))
    return (pred == states[result.val_start :]).float().mean().item()


def test_learns_a_sequence_pattern_and_not_shuffled_labels():
    X, label = pattern()
    states = label * 2 - 1
    learned = fit(TINY, X, states, train=QUICK, device="cpu")
    acc = val_accuracy(learned, X, states)
    assert acc > 0.9, learned.history

    shuffled = states[torch.randperm(len(states), generator=torch.Generator().manual_seed(5))]
    control = fit(TINY, X, shuffled, train=QUICK, device="cpu")
    assert val_accuracy(control, X, shuffled) < 0.65


def test_same_seed_same_weights_and_the_callers_rng_is_untouched():
    X, label = pattern(300)
    train = TrainConfig(loss="mse", lr=0.01, epochs=2, batch_size=32, seed=7)
    rng_before = torch.get_rng_state()
    a = fit(TINY, X, label, train=train, device="cpu").model.state_dict()
    assert torch.equal(torch.get_rng_state(), rng_before)
    b = fit(TINY, X, label, train=train, device="cpu").model.state_dict()
    c = fit(TINY, X, label, train=TrainConfig(**{**train.to_dict(), "seed": 8}), device="cpu")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c.model.state_dict()[k]) for k in a)


def test_early_stopping_restores_the_best_weights():
    X, _ = pattern(400)
    noise = torch.randn(len(X), generator=torch.Generator().manual_seed(3))  # nothing to learn: val loss rises
    train = TrainConfig(loss="mse", lr=0.05, epochs=40, batch_size=16, patience=3, lr_patience=None, seed=0)
    config = ModelConfig("price", profile="fast", options={"hidden": 16})
    result = fit(config, X, noise, train=train, device="cpu")
    assert result.stopped_early and len(result.history) < 40
    assert len(result.history) == result.best_epoch + 3
    val = slice(result.val_start, None)
    final_val = F.mse_loss(predict(result.model, X[val], device="cpu"), noise[val]).item()
    best_val = result.history[result.best_epoch - 1]["val_loss"]
    assert final_val == pytest.approx(best_val, rel=1e-5) and best_val == pytest.approx(result.best_loss)
    assert result.history[-1]["val_loss"] > best_val

    keep_last = fit(
        config, X, noise, train=TrainConfig(**{**train.to_dict(), "restore_best": False}), device="cpu"
    )
    last_val = F.mse_loss(predict(keep_last.model, X[val], device="cpu"), noise[val]).item()
    assert last_val == pytest.approx(keep_last.history[-1]["val_loss"], rel=1e-5)


class Recorder(nn.Module):
    """Records which samples it sees in training and in evaluation (sample id in X[:, 0, 0])."""

    def __init__(self):
        super().__init__()
        self.w = nn.Linear(1, 1)
        self.seen_train, self.seen_eval = [], []

    def forward(self, x):
        (self.seen_train if self.training else self.seen_eval).append(x[:, 0, 0].long())
        return self.w(x[:, -1, :1]).squeeze(-1)


def test_validation_split_is_by_time_and_never_shuffled_across():
    n = 100
    X = torch.arange(n, dtype=torch.float32).reshape(n, 1, 1).expand(n, 3, 1)
    model = Recorder()
    train = TrainConfig(loss="mse", epochs=2, batch_size=8, val_fraction=0.2, val_gap=5, patience=None, seed=0)
    result = fit(model, X, torch.zeros(n), train=train, device="cpu")
    assert (result.n_train, result.n_val, result.val_start) == (75, 20, 80)
    trained = torch.cat(model.seen_train)
    assert sorted(trained.tolist()) == sorted(list(range(75)) * 2)  # each training sample once per epoch
    assert trained[:75].tolist() != list(range(75))  # shuffled within the training part
    assert torch.cat(model.seen_eval).tolist() == list(range(80, 100)) * 2


def test_sltp_trains_on_class_sl_tp_targets():
    X, label = pattern(300)
    cls = torch.where(label > 0, 0, torch.where(X[:, -1, 1] > 1.0, 1, 2))  # buy / sell / no trade
    sl, tp = X[:, -1, 1] * 20, X[:, -1, 2]  # sl often beyond the [-10, 10] clamp
    config = ModelConfig("sltp", profile="fast", train=TrainConfig(loss="sltp", epochs=2, lr=0.01, seed=0))
    result = fit(config, X, (cls, sl, tp), device="cpu")
    assert result.config.profile == "fast" and result.config.n_features == 3
    out = predict(result.model, X, batch_size=64, device="cpu")
    assert isinstance(out, SLTPOutput) and out.logits.shape == (len(X), 3)
    assert out.sl.abs().max() <= 10
    assert balanced_class_weights(torch.tensor([0, 0, 0, 1]), 3).tolist() == pytest.approx([4 / 9, 4 / 3, 1.0])


def test_ensemble_and_batch_norm_networks_train():
    X, label = pattern(300)
    ens = fit(
        ModelConfig("attention_ensemble", profile="fast", train=TrainConfig(loss="bce", epochs=1)),
        X,
        label,
        device="cpu",
    )
    prob, conf = AttentionEnsemble.combine(predict(ens.model, X, device="cpu"))
    assert prob.shape == conf.shape == (len(X),) and ((conf > 0) & (conf <= 1)).all()
    # 295 windows: 236 train = 5 x 47 + 1, so the last batch holds one sample, which
    # batch-norm cannot train on: fit skips it instead of failing.
    train = TrainConfig(loss="huber", epochs=1, batch_size=47)
    crypto = fit(ModelConfig("crypto", profile="fast", train=train), X, X[:, -1, 0], device="cpu")
    assert crypto.n_train == 236 and len(crypto.history) == 1


def test_progress_is_logged_per_epoch(caplog):
    """fit reports each epoch through logging: a DEBUG line with the losses, and at
    INFO a progress step of its task (which the command line draws as a bar and never
    prints as a line), so a library caller sees nothing unless it asks."""
    X, label = pattern(200)
    with caplog.at_level(logging.DEBUG, logger="mlbt.models.training"):
        fit(TINY, X, label, train=TrainConfig(epochs=2), device="cpu")
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "mlbt.models.training")
    assert "epoch 1/2" in text and "val" in text and "restored" in text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="mlbt"):
        fit(TINY, X, label, train=TrainConfig(epochs=2), device="cpu", task="fold 1/1")
    steps = [r.progress for r in caplog.records if r.name.startswith("mlbt")]
    assert [(s["task"], s["done"], s["total"], s["line"]) for s in steps] == [("fold 1/1", 1, 2, False),
                                                                             ("fold 1/1", 2, 2, False)]


def test_bad_inputs_are_refused():
    X, label = pattern(100)
    with pytest.raises(ValueError, match="samples"):
        fit(TINY, X, label[:-1], device="cpu")
    bad = X.clone()
    bad[10, 2, 1] = float("nan")
    with pytest.raises(ValueError, match="sample 10"):
        fit(TINY, bad, label, device="cpu")
    with pytest.raises(ValueError, match="configured for 4 features but X has 3"):
        fit(ModelConfig("etf50", n_features=4), X, label, device="cpu")
    with pytest.raises(ValueError, match="no training part"):
        fit(TINY, X[:3], label[:3], train=TrainConfig(val_fraction=0.5, val_gap=2), device="cpu")


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@cuda
def test_fit_and_predict_on_cuda_with_mixed_precision():
    X, label = pattern()
    states = label * 2 - 1
    result = fit(TINY, X, states, train=QUICK, device="cuda")  # float16 autocast + GradScaler
    assert result.device.startswith("cuda") and next(result.model.parameters()).is_cuda
    pred = predict(result.model, X[:10], device="cuda")  # bfloat16 autocast
    assert pred.device.type == "cpu" and pred.dtype == torch.float32
    assert val_accuracy(result, X, states, device="cuda") > 0.9
    # windows built on the GPU: batches are gathered there
    x_gpu = torch.randn(500, 3, device="cuda")
    X_gpu = sliding_windows(x_gpu, LENGTH)
    on_gpu = fit(TINY, X_gpu, (X_gpu[:, -3, 0] > 0).float(), train=QUICK, device="cuda")
    assert len(on_gpu.history) == QUICK.epochs


@cuda
def test_cuda_full_profile_trains_every_network():
    X, label = pattern(400)
    for network, loss, y in [
        ("crypto", "huber", X[:, -1, 0]),
        ("attention_ensemble", "bce", label),
        ("sltp", "sltp", (label.long(), X[:, -1, 1], X[:, -1, 2])),
    ]:
        result = fit(ModelConfig(network, train=TrainConfig(loss=loss, epochs=2)), X, y, device="cuda")
        assert result.config.profile == "full"
        assert all(torch.isfinite(torch.tensor(h["loss"])) for h in result.history)


def test_weight_decay_reaches_weight_matrices_only():
    """The crypto system's L2 penalty, as a Keras kernel regularizer applies it: with a
    loss whose gradient is zero, one Adam step moves every weight matrix (the decay
    term) and leaves biases and batch-norm scales exactly where they were."""
    from mlbt.models.config import build_model
    from mlbt.models.training import _decay_groups

    torch.manual_seed(0)
    model = build_model(ModelConfig("crypto", n_features=4, profile="fast"))
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = torch.optim.Adam(_decay_groups(model, 0.1), lr=0.01)
    (model(torch.randn(8, 10, 4)) * 0.0).sum().backward()
    optimizer.step()
    for name, p in model.named_parameters():
        moved = not torch.equal(p.detach(), before[name])
        assert moved == (p.ndim >= 2), name
