"""Built-in hypermodels: tunable image classifiers and image augmentation.

The KerasTuner ``applications``: ready-made ``HyperModel`` subclasses that
declare their own search space. Importing this package is cheap; Keras is
imported when a hypermodel's ``build`` is first called. No pretrained weights
are downloaded: every network is trained from scratch, except that
``HyperEfficientNet`` can start from a local weights file.

Example:
    >>> import tuning as kt
    >>> from tuning.applications import HyperResNet
    >>> hypermodel = HyperResNet(input_shape=(32, 32, 3), classes=10)
    >>> hp = kt.HyperParameters()
    >>> model = hypermodel.build(hp)  # doctest: +SKIP
"""

from __future__ import annotations

from tuning.applications.augment import HyperImageAugment
from tuning.applications.efficientnet import HyperEfficientNet
from tuning.applications.resnet import HyperResNet
from tuning.applications.xception import HyperXception

__all__ = [
    "HyperEfficientNet",
    "HyperImageAugment",
    "HyperResNet",
    "HyperXception",
]
