"""Energy = counts x the profile's figures; profile loading/validation; FLOPs from shapes; NVML
measured path with a fake NVML and the no-CUDA fallback (budget < 20 s)."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ckd_toolchain.errors import InputError
from ckd_toolchain.hardware.energy import gpu_energy, horowitz_45nm, loihi_energy
from ckd_toolchain.hardware.energy.flops import count_module, total_flops, total_macs
from ckd_toolchain.hardware.energy.layer_counts import count_layers
from ckd_toolchain.hardware.energy.profiles import available_profiles, load_profile

pytestmark = pytest.mark.timeout(60)

LAYERS = [
    dict(name="fc1", kind="dense", in_shape=[6], out_shape=[4], spikes_per_inference=7.0,
         input_spikes_per_inference=10.0, synaptic_ops_per_inference=40.0, cores=1),
    dict(name="fc2", kind="dense", in_shape=[4], out_shape=[3], spikes_per_inference=2.0,
         synaptic_ops_per_inference=21.0, cores=1),
]
T = 5


def counts():
    return count_layers(LAYERS, T, 10.0, cores_per_tile=4)


def test_bundled_profiles_load_with_citations():
    assert "loihi1-davies2018" in available_profiles("loihi")
    assert {"a100-sxm", "h100-sxm", "rtx4090"} <= set(available_profiles("gpu"))
    p = load_profile(None, "loihi")
    assert "Davies" in p.citation and "Table 2" in p.citation and "pre-silicon" in p.label
    assert p.si("synaptic_op_energy") == pytest.approx(23.6e-12)
    assert p.si("neuron_update_inactive_energy") == pytest.approx(52e-12)
    assert p.si("tile_hop_energy_ns") == pytest.approx(4.0e-12)
    h = load_profile("horowitz-45nm", "ops45nm")
    assert (h.si("mac_energy"), h.si("ac_energy")) == (pytest.approx(4.6e-12), pytest.approx(0.9e-12))
    assert load_profile("a100-sxm", "gpu").si("peak_flops_fp32") == pytest.approx(19.5e12)


def test_loihi_energy_is_counts_times_figures():
    p = load_profile(None, "loihi")
    e = loihi_energy.energy(counts(), p)
    # fc1: 40 SOPs, 20 updates (7 active), 10 messages, 0 hops (cores 0,1 share tile 0)
    # fc2: 21 SOPs, 15 updates (2 active), 7 messages, 0 hops
    want = (61 * 23.6 + 9 * 81 + (35 - 9) * 52 + 17 * 1.7 + 0 * 3.0) * 1e-12
    assert e["total"] == pytest.approx(want)
    assert e["breakdown"]["synaptic_ops"] == pytest.approx(61 * 23.6e-12)
    assert sum(e["per_layer"]) == pytest.approx(want)


def test_loihi_latency_formula():
    p = load_profile(None, "loihi")
    lat = loihi_energy.latency(counts(), T, p, cores_per_tile=4)
    # per step: fc1 = 40/5 * 3.5 + 4 * (0.35*8.4 + 0.65*5.3); fc2 = 21/5*3.5 + 3*(2/15*8.4 + 13/15*5.3)
    fc1 = 8 * 3.5 + 4 * (0.35 * 8.4 + 0.65 * 5.3)
    fc2 = 4.2 * 3.5 + 3 * (2 / 15 * 8.4 + 13 / 15 * 5.3)
    step = max(fc1, fc2) + 2.1 + 0 * 4.1 + 113  # 3 cores -> 1 tile: no hop, 1-tile barrier
    assert lat["per_step"] == pytest.approx(step * 1e-9)
    assert lat["per_inference"] == pytest.approx(T * step * 1e-9)
    assert lat["bottleneck"] == "fc1"


def test_horowitz_views():
    p = load_profile(None, "ops45nm")
    c = counts()
    assert horowitz_45nm.snn_energy(c, T, p)["total"] == pytest.approx(61 * 0.9e-12)
    # input not spikes: first layer runs densely: T x 24 MACs x 4.6 pJ
    assert horowitz_45nm.snn_energy(c, T, p, input_is_spikes=False)["total"] == pytest.approx((5 * 24 * 4.6 + 21 * 0.9) * 1e-12)
    assert horowitz_45nm.dense_energy(c, T, p)["total"] == pytest.approx(5 * 36 * 4.6e-12)


def test_gpu_estimate():
    p = load_profile("a100-sxm", "gpu")
    flops = gpu_energy.student_dense_flops(36, 7, T)
    assert flops == 2 * 36 * 5 + 4 * 7 * 5
    est = gpu_energy.estimate(flops, p)
    assert est["latency"] == pytest.approx(flops / 19.5e12)
    assert est["energy"] == pytest.approx(flops / 19.5e12 * 400)


def test_user_profile_and_bad_profiles(tmp_path):
    good = tmp_path / "loihi2.yaml"
    text = (load_profile(None, "loihi").path and open(load_profile(None, "loihi").path).read())
    good.write_text(text.replace("profile: loihi1-davies2018", "profile: my-loihi2").replace("value: 23.6", "value: 10.0"))
    p = load_profile(good, "loihi")
    assert p.name == "my-loihi2" and p.si("synaptic_op_energy") == pytest.approx(10e-12)
    bad = tmp_path / "bad.yaml"
    for body, msg in [
        (text.replace("unit: pJ", "unit: parsecs", 1), "unknown unit"),
        (text.replace("value: 23.6", "value: -1"), "positive"),
        (text.replace("  synaptic_op_energy:", "  synaptic_op_energyX:"), "needs figures: synaptic_op_energy"),
        (text.replace("value: 23.6, unit: pJ", "value: 23.6, unit: ns"), "not a J unit"),
        ("[1, 2", "not valid YAML"),
        ("- a list", "mapping"),
    ]:
        bad.write_text(body)
        with pytest.raises(InputError, match=msg) as ei:
            load_profile(bad, "loihi")
        assert str(bad) in str(ei.value)
    with pytest.raises(InputError, match="expected a 'gpu' profile"):
        load_profile(good, "gpu")
    with pytest.raises(InputError, match="no such gpu profile"):
        load_profile("tpu-v9", "gpu")


class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.relu = nn.ReLU()
        self.pool = nn.AvgPool2d(2)
        self.fc = nn.Linear(4 * 4 * 4, 10)

    def forward(self, x):
        return self.fc(self.pool(self.relu(self.bn(self.conv(x)))).flatten(1))


def test_flops_of_a_hand_made_net():
    rec = count_module(TwoLayer(), (3, 8, 8), batch=2)
    macs = {r.name: r.macs for r in rec}
    assert macs["conv"] == 4 * 8 * 8 * 3 * 9  # 6912
    assert macs["fc"] == 64 * 10
    assert total_macs(rec) == 6912 + 640
    flops = {r.name: r.flops for r in rec}
    assert flops["bn"] == 2 * 256 and flops["relu"] == 256 and flops["pool"] == 64 * 4
    assert flops["fc"] == 2 * 640 + 10
    assert total_flops(rec) == 2 * 6912 + 512 + 256 + 256 + 1290
    assert [r.out_shape for r in rec][0] == (4, 8, 8)


def test_resnet18_teacher_is_1_82_gmacs():
    models = pytest.importorskip("ckd_toolchain.ckd_train.models")
    if not hasattr(models, "build_teacher"):
        pytest.skip("build_teacher not available")
    m = models.build_teacher({"arch": "resnet18", "num_classes": 1000})
    g = total_macs(count_module(m, (3, 224, 224))) / 1e9
    assert g == pytest.approx(1.82, rel=0.01)


class FakeNvml:
    """Energy counter (mJ) that rises 50 W when idle and 250 W while fn runs; a fake clock."""

    def __init__(self):
        self.t = 0.0
        self.e = 1_000_000.0
        self.busy = False

    def device_name(self):
        return "Fake GPU"

    def total_energy_mj(self):
        return int(self.e)

    def clock(self):
        return self.t

    def advance(self, dt):
        self.e += dt * (250.0 if self.busy else 50.0) * 1e3
        self.t += dt


def test_gpu_measured_with_fake_nvml():
    nv = FakeNvml()

    def fn():
        nv.busy = True
        nv.advance(0.2)
        nv.busy = False

    m = gpu_energy.measure_energy(fn, 10, nvml=nv, idle_s=1.0, min_duration_s=0.99, min_counts=1000,
                                  clock=nv.clock, sleep=nv.advance)
    assert m["available"] and m["device"] == "Fake GPU"
    assert m["idle_power_W"] == pytest.approx(50.0)
    # repeated until >= 1 s and >= 1000 mJ: 5 calls of 0.2 s (250 W x 1 s = 250 J)
    assert m["repetitions"] == 5 and m["num_inferences"] == 50
    assert m["duration_s"] == pytest.approx(1.0)
    assert m["gross_energy_J"] == pytest.approx(250 * 1.0)
    assert m["energy_J"] == pytest.approx((250 - 50) * 1.0)
    assert m["energy_per_inference_J"] == pytest.approx(4.0)    # (250 - 50) W x 0.2 s / 10


def test_gpu_repeats_until_the_counter_resolution_is_reached():
    """A 1 W net load for 1 ms per call: the mJ counter needs >= 1000 counts, i.e. many calls."""
    nv = FakeNvml()

    def fn():
        nv.busy = True
        nv.advance(0.001)
        nv.busy = False

    m = gpu_energy.measure_energy(fn, 1, nvml=nv, idle_s=1.0, min_duration_s=0.0005, min_counts=1000,
                                  clock=nv.clock, sleep=nv.advance)
    assert m["gross_energy_J"] >= 1.0
    assert m["repetitions"] in (4, 5)   # 250 W x 1 ms = 250 mJ per call (5: float rounding of the counter)
    assert m["energy_per_inference_J"] == pytest.approx(0.2, rel=0.01)


class FakePynvml:
    """The pynvml calls NvmlDevice uses; NVML (PCI) order differs from CUDA's."""

    def __init__(self, uuids):
        self.uuids = uuids
        self.inited = self.shut = 0

    def nvmlInit(self):
        self.inited += 1

    def nvmlShutdown(self):
        self.shut += 1

    def nvmlDeviceGetCount(self):
        return len(self.uuids)

    def nvmlDeviceGetHandleByIndex(self, i):
        return i

    def nvmlDeviceGetUUID(self, h):
        return self.uuids[h]

    def nvmlDeviceGetName(self, h):
        return f"GPU at NVML index {h}"

    def nvmlDeviceGetTotalEnergyConsumption(self, h):
        return 1000 * (h + 1)


def test_nvml_device_matched_by_uuid_not_index():
    from ckd_toolchain.hardware.energy.nvml import NvmlDevice, NvmlUnavailable, normalise_uuid

    fake = FakePynvml(["GPU-aaaa-0000", "GPU-bbbb-1111", b"GPU-CCCC-2222"])
    # CUDA_VISIBLE_DEVICES=2 makes NVML device 2 CUDA device 0: torch reports its UUID without prefix
    dev = NvmlDevice(uuid="cccc-2222", module=fake)
    assert dev.device_name() == "GPU at NVML index 2" and dev.total_energy_mj() == 3000
    dev.close()
    assert normalise_uuid("MIG-ABcd") == "abcd"
    with pytest.raises(NvmlUnavailable, match="no NVML device"):
        NvmlDevice(uuid="dddd", module=fake)
    assert fake.shut == 2        # closed after the failed match too


def test_gpu_fallback_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    ran = []
    m = gpu_energy.measure_energy(lambda: ran.append(1), 3)
    assert m["available"] is False and "no CUDA" in m["reason"] and ran == [1]
    assert not math.isnan(m["duration_s"])
