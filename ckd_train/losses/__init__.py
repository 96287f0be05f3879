"""Loss functions of the CKD method (arXiv 2507.09269, Sec. III) and its baselines."""
from ckd_toolchain.ckd_train.losses.cka import linear_cka
from ckd_toolchain.ckd_train.losses.domain_alignment import DomainAlignment
from ckd_toolchain.ckd_train.losses.he2024 import sigma_weighted_cka, sigma_weighted_tet
from ckd_toolchain.ckd_train.losses.kd import dist_loss, dkd_loss, kd_loss, KD_LOSSES
from ckd_toolchain.ckd_train.losses.luminet import luminet_loss
from ckd_toolchain.ckd_train.losses.nld import nld_loss
from ckd_toolchain.ckd_train.losses.samd import class_activation_map, samd_loss, spike_activation_map
from ckd_toolchain.ckd_train.losses.schedules import cosine_warmup_factor, kd_phase_weight, replacement_probability
from ckd_toolchain.ckd_train.losses.tet import tet_loss

__all__ = ["linear_cka", "DomainAlignment", "kd_loss", "dkd_loss", "dist_loss", "KD_LOSSES",
           "luminet_loss", "nld_loss", "samd_loss", "spike_activation_map", "class_activation_map",
           "cosine_warmup_factor", "kd_phase_weight", "replacement_probability", "tet_loss",
           "sigma_weighted_cka", "sigma_weighted_tet"]
