"""Training engine of `ckd-train`: run config, epoch plans, objectives, loops, DDP, checkpoints."""
from ckd_toolchain.ckd_train.engine.run_config import DEFAULT_CONFIG, load_config, apply_overrides, merge
from ckd_toolchain.ckd_train.engine.student_trainer import train_student
from ckd_toolchain.ckd_train.engine.teacher_trainer import train_teacher

__all__ = ["DEFAULT_CONFIG", "load_config", "apply_overrides", "merge", "train_student", "train_teacher"]
