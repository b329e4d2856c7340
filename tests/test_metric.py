"""Metrics against hand-computed values (MXNet 1.x definitions)."""
import math

import numpy as np
import pytest

import hybridnet as mx
from hybridnet import metric, nd
from hybridnet.base import HybridnetValueError, ShapeError

PRED = nd.array([[0.3, 0.7], [0.0, 1.0], [0.4, 0.6]])
LABEL = nd.array([0, 1, 1])


def test_accuracy_scores_and_indices():
    acc = metric.Accuracy()
    assert acc.get()[0] == "accuracy" and math.isnan(acc.get()[1])
    acc.update([LABEL], [PRED])                         # argmax -> [1, 1, 1]: 2/3 correct
    assert acc.get() == ("accuracy", pytest.approx(2 / 3))
    acc.update(nd.array([2, 0]), nd.array([2, 1]))      # already indices: 1/2
    assert acc.num_inst == 5 and acc.sum_metric == 3
    acc.update(np.array([[1], [0]]), np.array([[1], [0]]))   # NumPy inputs, same shape
    assert acc.get()[1] == pytest.approx(5 / 7)
    acc.reset()
    assert acc.num_inst == 0 and acc.sum_metric == 0.0
    a0 = metric.Accuracy(axis=0)
    a0.update(nd.array([1, 0]), nd.array([[0.1, 0.9], [0.8, 0.2]]))   # argmax over rows
    assert a0.get()[1] == 1.0


def test_top_k_accuracy():
    pred = nd.array([[0.1, 0.5, 0.3, 0.1], [0.6, 0.1, 0.2, 0.1], [0.3, 0.2, 0.5, 0.1]])
    m = metric.TopKAccuracy(top_k=2)
    m.update([nd.array([2, 1, 0])], [pred])   # top-2 sets {1,2} {0,2} {2,0}: hit, miss, hit
    assert m.get() == ("top_k_accuracy_2", pytest.approx(2 / 3))
    m5 = metric.create("top_k_acc", top_k=5)            # k larger than the class count
    m5.update([nd.array([3, 3, 3])], [pred])
    assert m5.get()[1] == 1.0


def test_f1_macro_and_micro():
    f1 = metric.F1()
    f1.update([LABEL], [PRED])       # pred [1,1,1], label [0,1,1]: tp 2 fp 1 fn 0 -> 0.8
    assert f1.get() == ("f1", pytest.approx(0.8))
    f1.update([nd.array([1, 0])], [nd.array([[0.9, 0.1], [0.2, 0.8]])])   # tp 0: f1 = 0
    assert f1.get()[1] == pytest.approx(0.4)           # macro: mean of 0.8 and 0
    micro = metric.F1(average="micro")
    micro.update([LABEL], [PRED])
    micro.update([nd.array([1, 0])], [nd.array([[0.9, 0.1], [0.2, 0.8]])])
    # totals tp 2, fp 2, fn 1: precision 1/2, recall 2/3 -> f1 = 4/7
    assert micro.get()[1] == pytest.approx(4 / 7) and micro.num_inst == 5


def test_mcc():
    m = metric.MCC()
    m.update([nd.array([1, 1, 0, 0])], [nd.array([[0, 1], [1, 0], [1, 0], [1, 0]])])
    tp, fp, fn, tn = 1, 0, 1, 2
    expected = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    assert m.get() == ("mcc", pytest.approx(expected))


def test_regression_metrics():
    label = nd.array([1.0, 2.0, 3.0, 4.0])
    pred = nd.array([[1.5], [2.0], [2.0], [5.0]])
    d = np.array([-0.5, 0.0, 1.0, -1.0])
    for name, per_batch in [("mae", np.abs(d).mean()), ("mse", (d ** 2).mean()),
                            ("rmse", np.sqrt((d ** 2).mean()))]:
        m = metric.create(name)
        m.update([label], [pred])
        m.update([nd.array([0.0])], [nd.array([2.0])])   # second batch, counted once
        second = {"mae": 2.0, "mse": 4.0, "rmse": 2.0}[name]
        assert m.get() == (name, pytest.approx((per_batch + second) / 2))
        assert m.num_inst == 2


def test_cross_entropy_nll_perplexity():
    p = np.array([[0.3, 0.7], [0.0, 1.0], [0.4, 0.6]])
    picked = np.array([0.3, 1.0, 0.6])
    ce = metric.CrossEntropy()
    ce.update([LABEL], [nd.array(p)])
    assert ce.get() == ("cross-entropy", pytest.approx(-np.log(picked + 1e-12).mean(), rel=1e-6))
    nll = metric.create("nll_loss")
    nll.update([LABEL], [nd.array(p)])
    assert nll.get()[0] == "nll-loss" and nll.get()[1] == pytest.approx(ce.get()[1])
    ppl = metric.Perplexity(ignore_label=None)
    ppl.update([LABEL], [nd.array(p)])
    assert ppl.get() == ("perplexity", pytest.approx(1.7710976285155853, rel=1e-6))
    ign = metric.Perplexity(ignore_label=1)       # only the first token (p = 0.3) counts
    ign.update([LABEL], [nd.array(p)])
    assert ign.get()[1] == pytest.approx(1 / 0.3, rel=1e-6) and ign.num_inst == 1
    seq = metric.Perplexity(axis=1)                # (batch, classes, time) layout
    seq.update([nd.array([[0, 1]])], [nd.array([[[0.5, 0.2], [0.5, 0.8]]])])
    assert seq.get()[1] == pytest.approx(math.exp(-(math.log(0.5) + math.log(0.8)) / 2))


def test_pearson_correlation():
    x = np.array([1.0, 2.0, 3.0, 4.0, 6.0])
    y = np.array([2.0, 1.0, 4.0, 3.0, 7.0])
    m = metric.create("pearsonr")
    m.update([nd.array(y)], [nd.array(x)])
    assert m.get()[1] == pytest.approx(np.corrcoef(x, y)[0, 1])
    micro = metric.PearsonCorrelation(average="micro")
    micro.update([nd.array(y[:2])], [nd.array(x[:2])])
    micro.update([nd.array(y[2:])], [nd.array(x[2:])])
    assert micro.get()[1] == pytest.approx(np.corrcoef(x, y)[0, 1])


def test_loss_metric():
    m = metric.Loss()
    m.update(None, [nd.array([1.0, 2.0]), nd.array([[3.0, 6.0]])])
    m.update(None, nd.array([3.0]))
    assert m.get() == ("loss", pytest.approx(15 / 5))
    assert metric.create("torch").get()[0] == "torch" and metric.create("caffe").name == "caffe"


def test_composite_and_create_list():
    comp = metric.create(["acc", metric.CrossEntropy()])
    comp.update([LABEL], [PRED])
    names, values = comp.get()
    assert names == ["accuracy", "cross-entropy"] and values[0] == pytest.approx(2 / 3)
    assert comp.get_name_value()[0] == ("accuracy", pytest.approx(2 / 3))
    comp.add("mae")
    assert isinstance(comp.get_metric(2), metric.MAE)
    comp.reset()
    assert comp.get_metric(0).num_inst == 0
    comp2 = metric.CompositeEvalMetric(label_names=["y"], output_names=["out"])
    comp2.add(metric.Accuracy())
    comp2.update_dict({"y": LABEL, "z": nd.array([0])}, {"out": PRED, "aux": nd.array([1])})
    assert comp2.get()[1][0] == pytest.approx(2 / 3)
    assert metric.create(comp2) is comp2
    assert metric.create(metric.Accuracy).name == "accuracy"


def test_custom_metric_and_np():
    def abs_err(label, pred):
        return np.abs(label - pred.argmax(axis=1)).sum(), label.size
    m = metric.create(abs_err)
    m.update([LABEL], [PRED])
    assert m.get() == ("abs_err", pytest.approx(1 / 3))
    m2 = metric.np(lambda label, pred: 0.25)
    m2.update([LABEL, LABEL], [PRED, PRED])
    assert m2.get() == ("custom(<lambda>)", 0.25) and m2.num_inst == 2
    extra = metric.CustomMetric(lambda lab, p: 1.0, name="x", allow_extra_outputs=True)
    extra.update([LABEL], [PRED, PRED])
    assert extra.num_inst == 1


def test_global_stats_and_config():
    acc = metric.Accuracy()
    acc.update([LABEL], [PRED])
    acc.reset_local()
    acc.update(nd.array([0]), nd.array([0]))
    assert acc.get()[1] == 1.0 and acc.get_global()[1] == pytest.approx(3 / 4)
    cfg = metric.Accuracy(axis=2, name="a").get_config()
    assert cfg == {"axis": 2, "metric": "Accuracy", "name": "a", "output_names": None,
                   "label_names": None}
    rebuilt = metric.create(cfg.pop("metric"), **cfg)
    assert rebuilt.axis == 2 and rebuilt.name == "a"
    assert str(acc).startswith("EvalMetric: {'accuracy'")


def test_errors():
    with pytest.raises(HybridnetValueError, match=r"unknown metric 'acuracy'.*'acc'.*'accuracy'"):
        metric.create("acuracy")
    with pytest.raises(HybridnetValueError, match="expected a metric name"):
        metric.create(3)
    with pytest.raises(ShapeError, match="accuracy: got 2 label arrays but 1 prediction arrays"):
        metric.Accuracy().update([LABEL, LABEL], [PRED])
    with pytest.raises(ShapeError, match=r"accuracy: 4 labels but 3 predicted classes"):
        metric.Accuracy().update(nd.array([0, 1, 1, 0]), PRED)
    with pytest.raises(ShapeError, match="cannot take argmax over axis 3"):
        metric.Accuracy(axis=3).update(nd.array([0, 1, 1, 0]), PRED)
    with pytest.raises(HybridnetValueError, match="top_k must be > 1"):
        metric.TopKAccuracy(top_k=1)
    with pytest.raises(ShapeError, match=r"top_k_accuracy_2: 2 labels but 3 prediction rows"):
        metric.TopKAccuracy(2).update(nd.array([0, 1]), PRED)
    with pytest.raises(ShapeError, match="must be \\(batch, classes\\)"):
        metric.TopKAccuracy(2).update(nd.array([0]), nd.zeros((1, 2, 2)))
    with pytest.raises(HybridnetValueError, match="only supports binary classification"):
        metric.F1().update(nd.array([0, 1, 2]), PRED)
    with pytest.raises(ShapeError, match="f1: predictions must be \\(batch, 2\\)"):
        metric.F1().update(nd.array([0, 1]), PRED)
    with pytest.raises(HybridnetValueError, match="average must be 'macro' or 'micro'"):
        metric.F1(average="weighted")
    with pytest.raises(ShapeError, match=r"mse: label shape \(3,\) does not match prediction "
                                         r"shape \(3, 2\)"):
        metric.MSE().update(LABEL, PRED)
    with pytest.raises(ShapeError, match="cross-entropy: predictions must be"):
        metric.CrossEntropy().update(nd.array([0, 1]), PRED)
    with pytest.raises(HybridnetValueError, match=r"labels must be class indices in \[0, 2\)"):
        metric.CrossEntropy().update(nd.array([0, 5, 1]), PRED)
    with pytest.raises(ShapeError, match="perplexity: label shape \\(2,\\) does not match"):
        metric.Perplexity().update(nd.array([0, 1]), PRED)
    with pytest.raises(ShapeError, match=r"pearsonr: label shape \(3,\) does not match "
                                         r"prediction shape \(2,\)"):
        metric.PearsonCorrelation().update(LABEL, nd.array([1, 2]))
    with pytest.raises(HybridnetValueError, match="CompositeEvalMetric: metric index 3"):
        metric.CompositeEvalMetric(["acc"]).get_metric(3)
    with pytest.raises(HybridnetValueError, match="feval must be callable"):
        metric.CustomMetric(5)
    with pytest.raises(HybridnetValueError, match="cannot be serialized"):
        metric.np(lambda a, b: 0).get_config()
    with pytest.raises(ShapeError, match="got 3 labels but 2 predictions"):
        metric.check_label_shapes([1, 2, 3], [1, 2])
    with pytest.raises(NotImplementedError, match="must override update"):
        metric.EvalMetric("x").update([LABEL], [PRED])
    assert mx.metric is metric
