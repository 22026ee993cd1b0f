"""Data and targets: real data sets (scikit-learn's digits, local MNIST files, MNIST-1D generated
offline by the ``mnist1d`` package), generated targets, the small MLPs trained on them, and small
trained conv targets (:func:`digits_conv_target` Conv2d on 8×8 digits, :func:`mnist1d_conv_target`
Conv1d on MNIST-1D, inputs in a data Box rather than the unit ball).

Every input a loader returns lies in the unit ball (one scale per data set, see
:mod:`sltheory.data.dataset`); randomness is explicit (a seed per call); nothing is downloaded.
Exposed to users as ``sltheory.datasets`` (its old name, kept) and ``sltheory.data``.

May import: the foundation (``sltheory.errors``, ``sltheory._checks``) and the core objects
(``sltheory.targets``), never the certificate, the constructions, tickets or the experiment engine.

Example::

    data = sltheory.datasets.load_digits(seed=0)
    net = sltheory.datasets.train_mlp([data.dim, 32, data.num_classes], data, seed=0)
    sltheory.datasets.accuracy(net, data.x_test, data.y_test)      # ≈ 0.97
    ticket = sltheory.approximate(net, sltheory.random_network(net, eps=0.01, seed=0), rescale=True)
"""

from .conv import TrainedConv, digits_conv_target, mnist1d_conv_target
from .dataset import Dataset
from .digits import load_digits
from .generated import gaussian_target
from .mnist import load_mnist
from .mnist1d import Mnist1dData, load_mnist1d, load_mnist1d_dataset
from .training import MAX_MLP_WEIGHTS, accuracy, predictions, train_mlp

__all__ = ["Dataset", "MAX_MLP_WEIGHTS", "Mnist1dData", "TrainedConv", "accuracy", "digits_conv_target",
           "gaussian_target", "load_digits", "load_mnist", "load_mnist1d", "load_mnist1d_dataset",
           "mnist1d_conv_target", "predictions",
           "train_mlp"]
