"""gluon.contrib.estimator: fit/evaluate, handler order, checkpoints, early stopping, errors."""
import io
import os

import numpy as np
import pytest

import hybridnet as mx
from hybridnet import gluon
from hybridnet.gluon.contrib.estimator import (BatchBegin, BatchEnd, CheckpointHandler,
                                               EarlyStoppingHandler, EpochBegin, EpochEnd,
                                               Estimator, LoggingHandler, MetricHandler,
                                               ProgressBarHandler, TrainBegin, TrainEnd,
                                               ValidationHandler)

N_TRAIN, N_VAL, BATCH = 256, 128, 32


@pytest.fixture(autouse=True)
def _no_bar(monkeypatch):
    monkeypatch.setenv("HYBRIDNET_PROGRESS", "0")


def _task(seed=0):
    """4 classes, labels = argmax of a fixed linear map: learnable, not trivially."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N_TRAIN + N_VAL, 10)).astype(np.float32)
    y = (x @ rng.normal(size=(10, 4))).argmax(1).astype(np.float32)
    tr = gluon.data.DataLoader(gluon.data.ArrayDataset(x[:N_TRAIN], y[:N_TRAIN]),
                               batch_size=BATCH, shuffle=True)
    va = gluon.data.DataLoader(gluon.data.ArrayDataset(x[N_TRAIN:], y[N_TRAIN:]),
                               batch_size=64)
    return tr, va, (x[N_TRAIN:], y[N_TRAIN:])


def _net():
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(16, activation="relu"), gluon.nn.Dense(4))
    return net


def _estimator(lr=0.5, **kw):
    mx.random.seed(1)
    net = _net()
    net.initialize(mx.init.Xavier())
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": lr})
    kw.setdefault("train_metrics", mx.metric.Accuracy())
    return Estimator(net, gluon.loss.SoftmaxCrossEntropyLoss(), trainer=trainer, **kw)


class Recorder(TrainBegin, EpochBegin, BatchBegin, BatchEnd, EpochEnd, TrainEnd):
    def __init__(self, log, tag="", priority=0):
        self.log, self.tag, self.priority = log, tag, priority

    def train_begin(self, est, *a, **k):
        self.log.append(self.tag + "train_begin")

    def epoch_begin(self, est, *a, **k):
        self.log.append(self.tag + "epoch_begin")

    def batch_begin(self, est, *a, **k):
        self.log.append(self.tag + "batch_begin")

    def batch_end(self, est, *a, **k):
        self.log.append(self.tag + "batch_end")

    def epoch_end(self, est, *a, **k):
        self.log.append(self.tag + "epoch_end")

    def train_end(self, est, *a, **k):
        self.log.append(self.tag + "train_end")


def test_fit_improves_accuracy_and_evaluate_returns_metrics():
    tr, va, (xv, yv) = _task()
    est = _estimator()
    before = dict(est.evaluate(va))["validation accuracy"]
    est.fit(tr, val_data=va, epochs=8)
    after = est.evaluate(va)
    assert [n for n, _ in after] == ["validation accuracy"]
    acc = after[0][1]
    manual = (est.net(mx.nd.array(xv)).asnumpy().argmax(1) == yv).mean()
    assert acc == pytest.approx(manual)
    assert acc >= 0.85 and acc > before + 0.3
    assert est.train_metrics[0].get()[1] >= 0.8


def test_default_metrics_names_and_trainer():
    net = _net()
    with pytest.warns(UserWarning, match="no trainer given, using SGD with learning rate 0.001"):
        est = Estimator(net, gluon.loss.SoftmaxCrossEntropyLoss())
    assert [m.name for m in est.train_metrics] == ["training accuracy",
                                                   "training SoftmaxCrossEntropyLoss"]
    assert [m.name for m in est.val_metrics] == ["validation accuracy",
                                                 "validation SoftmaxCrossEntropyLoss"]
    assert est.val_metrics[0] is not est.train_metrics[0]
    assert est.trainer.learning_rate == pytest.approx(0.001)
    assert est.context == [mx.cpu()]
    # the estimator initialized the net
    assert all(p.list_ctx() == [mx.cpu()] for p in net.collect_params().values())


def test_non_classification_loss_gets_only_a_loss_metric():
    net = _net()
    net.initialize()
    est = Estimator(net, gluon.loss.L2Loss(),
                    trainer=gluon.Trainer(net.collect_params(), "sgd"))
    assert [m.name for m in est.train_metrics] == ["training L2Loss"]


def test_handlers_fire_in_documented_order():
    tr, va, _ = _task()
    log = []
    est = _estimator()
    est.fit(tr, epochs=2, event_handlers=[Recorder(log)])
    per_epoch = ["epoch_begin"] + ["batch_begin", "batch_end"] * (N_TRAIN // BATCH) + \
        ["epoch_end"]
    assert log == ["train_begin"] + per_epoch * 2 + ["train_end"]


def test_priorities_order_handlers_within_an_event():
    tr, _, _ = _task()
    log = []
    est = _estimator()
    handlers = [Recorder(log, "late:", priority=5), Recorder(log, "early:", priority=-5000)]
    est.fit(tr, batches=1, event_handlers=handlers)
    assert log[:2] == ["early:train_begin", "late:train_begin"]
    assert log[-2:] == ["early:train_end", "late:train_end"]


def test_user_batch_end_sees_updated_metrics_and_parameters():
    tr, _, _ = _task()
    est = _estimator()
    w = est.net.collect_params()["0.weight"]
    seen = []

    class Check(BatchBegin, BatchEnd):
        def __init__(self):
            self.last = None    # the weight's shape is deferred until the first forward

        def batch_begin(self, estimator, *a, **k):
            if self.last is None and w.is_initialized:
                self.last = w.data().asnumpy().copy()

        def batch_end(self, estimator, *a, **k):
            if self.last is None:
                self.last = np.full(w.shape, np.nan, np.float32)
            metric = estimator.train_metrics[0]
            now = w.data().asnumpy()
            seen.append((metric.num_inst, not np.array_equal(now, self.last)))
            self.last = now.copy()

    est.fit(tr, batches=3, event_handlers=[Check()])
    # MetricHandler (-1000) and GradientUpdateHandler (-2000) ran before us (0)
    assert seen == [(BATCH, True), (2 * BATCH, True), (3 * BATCH, True)]


def test_fit_by_batches_stops_mid_epoch():
    tr, _, _ = _task()
    log = []
    est = _estimator()
    est.fit(tr, batches=3, event_handlers=[Recorder(log)])
    assert log.count("batch_end") == 3
    assert log.count("epoch_end") == 1 and log[-1] == "train_end"


def test_validation_handler_batch_period():
    tr, va, _ = _task()
    est = _estimator()
    calls = []

    def eval_fn(val_data, batch_axis, event_handlers):
        calls.append(est.evaluate(val_data, batch_axis, event_handlers))

    est.fit(tr, epochs=1, event_handlers=[ValidationHandler(va, eval_fn, epoch_period=None,
                                                            batch_period=3)])
    assert len(calls) == (N_TRAIN // BATCH) // 3


def test_logging_handler_output(capsys):
    tr, va, _ = _task()
    est = _estimator()
    est.fit(tr, val_data=va, epochs=2,
            event_handlers=[LoggingHandler(log_interval=4, metrics=est.train_metrics)])
    out = capsys.readouterr().out
    assert "Training begin: using optimizer SGD with current learning rate 0.5000" in out
    assert "Train for 2 epochs." in out
    assert "[Epoch 1] Finished in" in out and "training accuracy:" in out
    assert "[Epoch 0][Batch 4][Samples 160]" in out
    assert "[Validation] Finished in" in out and "validation accuracy:" in out
    assert "Train finished using total" in out


def test_progress_bar_shows_batches_metrics_and_rate(monkeypatch):
    monkeypatch.delenv("HYBRIDNET_PROGRESS")
    tr, _, _ = _task()
    est = _estimator()
    buf = io.StringIO()
    est.fit(tr, epochs=2, event_handlers=[ProgressBarHandler(file=buf, disable=False,
                                                             refresh_s=0)])
    text = buf.getvalue()
    assert "Epoch 1/2" in text and "Epoch 2/2" in text
    assert f"{N_TRAIN // BATCH}/{N_TRAIN // BATCH}" in text
    assert "accuracy=" in text and "samples/s=" in text
    monkeypatch.setenv("HYBRIDNET_PROGRESS", "0")
    buf = io.StringIO()
    est.fit(tr, epochs=1, event_handlers=[ProgressBarHandler(file=buf, disable=False)])
    assert buf.getvalue() == ""


def test_checkpoints_load_back(tmp_path):
    tr, va, (xv, _) = _task()
    est = _estimator()
    val_acc = est.val_metrics[0]
    ck = CheckpointHandler(str(tmp_path), model_prefix="m", monitor=val_acc, save_best=True,
                           max_checkpoints=2)
    est.fit(tr, val_data=va, epochs=3, event_handlers=[ck])
    n = N_TRAIN // BATCH
    names = sorted(os.listdir(tmp_path))
    assert names == sorted([f"m-epoch1batch{2 * n}.params", f"m-epoch1batch{2 * n}.states",
                            f"m-epoch2batch{3 * n}.params", f"m-epoch2batch{3 * n}.states",
                            "m-best.params", "m-best.states"])
    fresh = _net()
    fresh.load_parameters(str(tmp_path / f"m-epoch2batch{3 * n}.params"))
    x = mx.nd.array(xv)
    np.testing.assert_allclose(fresh(x).asnumpy(), est.net(x).asnumpy(), rtol=1e-6, atol=1e-6)
    trainer = gluon.Trainer(fresh.collect_params(), "sgd", {"learning_rate": 0.5})
    trainer.load_states(str(tmp_path / "m-best.states"))
    best = _net()
    best.load_parameters(str(tmp_path / "m-best.params"))
    assert ck.best == pytest.approx(max(ck.best, val_acc.get()[1]))


def test_resume_from_checkpoint_trains_only_the_rest(tmp_path):
    tr, _, _ = _task()
    est = _estimator()
    est.fit(tr, epochs=2, event_handlers=[CheckpointHandler(str(tmp_path))])
    log = []
    est2 = _estimator()
    est2.fit(tr, epochs=3, event_handlers=[CheckpointHandler(str(tmp_path),
                                                             resume_from_checkpoint=True),
                                           Recorder(log)])
    assert log.count("epoch_end") == 1   # epochs 0 and 1 were done
    a = est.net.collect_params()["0.weight"].data().asnumpy()
    n = N_TRAIN // BATCH
    assert os.path.exists(tmp_path / f"model-epoch2batch{3 * n}.params")
    assert a.shape == est2.net.collect_params()["0.weight"].data().shape
    with pytest.raises(ValueError, match="already reached 3 epochs"):
        _estimator().fit(tr, epochs=3, event_handlers=[
            CheckpointHandler(str(tmp_path), resume_from_checkpoint=True)])
    with pytest.raises(ValueError, match="same kind of period"):
        _estimator().fit(tr, batches=5, event_handlers=[
            CheckpointHandler(str(tmp_path), resume_from_checkpoint=True)])


def test_early_stopping_stops(capsys):
    tr, va, _ = _task()
    est = _estimator(lr=0.0)      # nothing learns: validation accuracy never improves
    log = []
    stopper = EarlyStoppingHandler(monitor=est.val_metrics[0], patience=2, mode="max")
    est.fit(tr, val_data=va, epochs=20, event_handlers=[stopper, Recorder(log)])
    assert log.count("epoch_end") == 3          # best at epoch 0, then 2 without gain
    assert stopper.stop_training and stopper.stopped_epoch == 2
    assert "early stopping due to validation accuracy not improving" in capsys.readouterr().out


def test_early_stopping_auto_mode_and_min_delta():
    est = _estimator()
    acc, loss_metric = est.val_metrics[0], mx.metric.Loss("validation loss")
    assert EarlyStoppingHandler(acc)._mode == "max"
    assert EarlyStoppingHandler(loss_metric)._mode == "min"
    h = EarlyStoppingHandler(loss_metric, min_delta=0.1, patience=0, mode="min")
    h.train_begin(est)
    loss_metric.update(0, [mx.nd.array([1.0])])
    assert h.epoch_end(est) is False
    loss_metric.reset()
    loss_metric.update(0, [mx.nd.array([0.95])])   # improved by less than min_delta
    assert h.epoch_end(est) is True


def test_bad_arguments_have_clear_errors(tmp_path):
    tr, _, _ = _task()
    est = _estimator()
    with pytest.raises(ValueError, match="loss must be a gluon.loss.Loss"):
        Estimator(_net(), lambda a, b: a)
    with pytest.raises(ValueError, match="exactly one of epochs=<int> or batches=<int>"):
        est.fit(tr, epochs=1, batches=2)
    with pytest.raises(ValueError, match="exactly one of epochs"):
        est.fit(tr)
    with pytest.raises(ValueError, match="must be an EventHandler"):
        est.fit(tr, epochs=1, event_handlers=[object()])
    with pytest.raises(ValueError, match="not one of the estimator's metrics"):
        est.fit(tr, epochs=1, event_handlers=[MetricHandler([mx.metric.Accuracy()])])
    with pytest.raises(ValueError, match="trainer must be a gluon.Trainer"):
        Estimator(_net(), gluon.loss.L2Loss(), trainer="sgd")
    with pytest.raises(ValueError, match="context must be a Context"):
        Estimator(_net(), gluon.loss.L2Loss(), context="cpu", trainer=est.trainer)
    with pytest.raises(ValueError, match="gpu.* is not available"):
        Estimator(_net(), gluon.loss.L2Loss(), context=mx.gpu(3), trainer=est.trainer)
    with pytest.raises(ValueError, match="metrics must be an EvalMetric"):
        Estimator(_net(), gluon.loss.L2Loss(), train_metrics=["acc"])
    with pytest.raises(ValueError, match="train_data must be an iterable"):
        est.fit(5, epochs=1)
    with pytest.raises(ValueError, match="log_interval must be a positive int or 'epoch'"):
        LoggingHandler(log_interval="batch")
    with pytest.raises(ValueError, match="save_best=True needs monitor"):
        CheckpointHandler(str(tmp_path), save_best=True)
    with pytest.raises(ValueError, match="CompositeEvalMetric cannot be monitored"):
        EarlyStoppingHandler(mx.metric.CompositeEvalMetric([mx.metric.Accuracy()]))
    with pytest.raises(ValueError, match="monitor must be one of the metric objects"):
        EarlyStoppingHandler("accuracy")
    with pytest.raises(ValueError, match="batch_processor must have fit_batch"):
        Estimator(_net(), gluon.loss.L2Loss(), trainer=est.trainer, batch_processor=object())


def test_hybridized_net_fits_like_eager():
    tr, va, _ = _task()
    results = []
    for hybridize in (False, True):
        mx.random.seed(3)
        est = _estimator()
        if hybridize:
            est.net.hybridize()
        est.fit(tr, epochs=2)
        results.append(est.net(mx.nd.array(np.ones((2, 10), np.float32))).asnumpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-4, atol=1e-4)
