"""`ckd-deploy --limit N` / `ckd-export --samples N` use N samples spread over the class-ordered test split."""
import numpy as np

from ckd_toolchain.subsets import spread_subset as subset_indices


def test_limit_spans_every_class_of_a_class_ordered_split():
    labels = np.repeat(np.arange(10), 18)  # 180 samples stored class by class, like our test splits
    idx = subset_indices(len(labels), 20)
    assert len(idx) == 20 and idx[0] == 0 and idx[-1] == 179
    assert set(labels[idx]) == set(range(10))


def test_no_limit_or_large_limit_is_everything_in_order():
    np.testing.assert_array_equal(subset_indices(7, None), np.arange(7))
    np.testing.assert_array_equal(subset_indices(7, 100), np.arange(7))
