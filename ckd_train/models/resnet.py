"""Contract name for the spiking residual block: ``ckd_train.models.resnet.SpikingBasicBlock``."""
from ckd_toolchain.ckd_train.models.resnet_snn import SpikingBasicBlock, build_resnet18_snn

__all__ = ["SpikingBasicBlock", "build_resnet18_snn"]
