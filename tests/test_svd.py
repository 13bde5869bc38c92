"""Gradient SVD: exact against numpy, planted structure found, noise rejected, bad files refused."""

from __future__ import annotations

import json
import subprocess

import h5py
import numpy as np
import pytest
import torch
from distributed import LocalCluster

from analysis.decompose import SVDOptions, run_svd
from analysis.svd import StreamMatrix, dask_svd, gram_svd, randomized_svd, roll_in_time, shuffle_in_time
from misgen.recording import ParamTable, Recording, write_recording
from misgen.svd_file import SVDFile
from conftest import MISGEN, misgen_in_process

PARAMS = ParamTable.from_named([("net.a.weight", (40, 50)), ("net.a.bias", (40,)), ("net.b.weight", (20, 100)),
                                ("net.b.bias", (20,)), ("net.c.weight", (10, 100)), ("net.c.bias", (10,))])


def small_recording(tmp_path, rng, dtype="float32"):
    t, d = 48, PARAMS.n_params
    scale = np.exp(rng.normal(size=d))  # heteroscedastic columns
    grads = rng.standard_t(3, size=(t, d)) * scale + np.outer(np.linspace(-1, 1, t), rng.normal(size=d)) * 3
    updates = -0.01 * grads + 0.002 * rng.normal(size=(t, d)) + 0.005
    path = write_recording(tmp_path / f"small_{dtype}.h5", PARAMS,
                           [{"grads": grads[:20], "updates": updates[:20]}, {"grads": grads[20:],
                                                                               "updates": updates[20:]}], dtype)
    return path, {"grads": grads, "updates": updates}


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as local:
        yield local.scheduler_address


def test_every_method_matches_numpy_svd(tmp_path, rng, cluster):
    path, data = small_recording(tmp_path, rng)
    with Recording(path) as recording:
        for stream in ("grads", "updates"):
            stored = recording.read(stream).astype(np.float64)
            for centred in (True, False):
                x = stored - stored.mean(axis=0) if centred else stored
                u, s, vt = np.linalg.svd(x, full_matrices=False)
                matrix = StreamMatrix(recording, stream, np.arange(recording.n_rows), centred, block_width=700)
                k = 12
                for decomposition in (gram_svd(matrix, k), randomized_svd(matrix, k, oversample=60),
                                      dask_svd(matrix, k), dask_svd(matrix, k, scheduler=cluster)):
                    np.testing.assert_allclose(decomposition.singular_values, s[:k], rtol=1e-6)
                    signs = np.sign(np.sum(decomposition.time_profiles * u[:, :k].T, axis=1))
                    np.testing.assert_allclose(decomposition.time_profiles * signs[:, None], u[:, :k].T, atol=1e-6)
                    np.testing.assert_allclose(decomposition.loadings * signs[:, None], vt[:k], atol=1e-5)
                    if centred:
                        np.testing.assert_allclose(decomposition.mean, stored.mean(axis=0), rtol=1e-5, atol=1e-6)


def test_row_selections_and_float16(tmp_path, rng):
    path, _ = small_recording(tmp_path, rng, "float16")
    with Recording(path) as recording:
        x = recording.read("grads").astype(np.float64)
        for spec, rows in (("even:12", np.unique(np.linspace(0, 47, 12).round().astype(int))),
                           ("range:10:30", np.arange(10, 30))):
            result, _ = run_svd(recording, SVDOptions("grads", True, spec, 5, "gram", shuffles=0))
            sub = x[rows] - x[rows].mean(axis=0)
            np.testing.assert_allclose(result.arrays["singular_values"], np.linalg.svd(sub, compute_uv=False)[:5],
                                       rtol=1e-6)
            assert result.arrays["steps_used"].tolist() == rows.tolist()
        result, _ = run_svd(recording, SVDOptions("grads", True, "random:20", 5, "gram", shuffles=0, seed=4))
        assert len(result.arrays["steps_used"]) == 20 and np.all(np.diff(result.arrays["steps_used"]) > 0)


def planted_recording(tmp_path, rng, planted: bool):
    """Noise, plus (if planted) an early component in layer a and a late one in channels 2, 3 of layer c."""
    t, d = 300, PARAMS.n_params
    x = rng.normal(size=(t, d))
    if planted:
        times = np.arange(t)
        early = np.exp(-0.5 * ((times - 60) / 15) ** 2)
        late = np.exp(-0.5 * ((times - 240) / 15) ** 2)
        in_a = np.zeros(d)
        in_a[PARAMS.columns("net.a.weight")] = rng.normal(size=2000)
        in_c = np.zeros(d)
        c_weight = np.zeros((10, 100))
        c_weight[2:4] = rng.normal(size=(2, 100))
        in_c[PARAMS.columns("net.c.weight")] = c_weight.ravel()
        x += 500 * np.outer(early / np.linalg.norm(early), in_a / np.linalg.norm(in_a))
        x += 250 * np.outer(late / np.linalg.norm(late), in_c / np.linalg.norm(in_c))
    return write_recording(tmp_path / f"planted_{planted}.h5", PARAMS, [{"grads": x, "updates": x * 1e-3}])


@pytest.mark.parametrize("centred", [True, False])
def test_planted_components_are_found_in_time_and_layer(tmp_path, rng, centred):
    with Recording(planted_recording(tmp_path, rng, planted=True)) as recording:
        svd, _ = run_svd(recording, SVDOptions("grads", centred, "all", 10, "gram", shuffles=3))
    nulls = svd.attrs["nulls"]
    assert nulls["n_above_shuffle"] == 2 and nulls["n_above_mp"] == 2
    centres = svd.components["time_center"][:2]
    # centring couples the two bumps through their means: a few steps of pull towards each other
    tolerance = 15 if centred else 2  # 5 % of the run when centred
    assert abs(centres[0] - 60) < tolerance and abs(centres[1] - 240) < tolerance, centres
    assert svd.labels[:2] == ["early", "late"]
    layers = [svd.layers[i] for i in svd.components["layer_mass"][:2].argmax(axis=1)]
    assert layers == ["net.a", "net.c"]
    c_units = svd.components["unit_mass"][1][svd.groups["unit_layer"] == svd.layers.index("net.c")]
    assert set(np.argsort(c_units)[-2:]) == {2, 3}


def test_time_shuffle_permutes_each_column_on_its_own_and_repeats_itself(rng):
    block = torch.from_numpy(rng.normal(size=(200, 30)))
    shuffled = shuffle_in_time(block, seed=1, repeat=0, columns=slice(60, 90))
    assert torch.equal(shuffled.sort(dim=0).values, block.sort(dim=0).values)  # each column keeps its values
    moved = (shuffled != block).float().mean(dim=0)
    assert bool((moved > 0.9).all())  # every column is permuted, not a few
    steps = torch.arange(200.0)[:, None].repeat(1, 30)  # every column the same: the shuffle shows its order
    orders = shuffle_in_time(steps, seed=1, repeat=0, columns=slice(60, 90))
    assert len({tuple(orders[:, j].tolist()) for j in range(30)}) == 30  # a permutation of its own per column
    assert torch.equal(shuffled, shuffle_in_time(block, seed=1, repeat=0, columns=slice(60, 90)))
    assert not torch.equal(shuffled, shuffle_in_time(block, seed=1, repeat=1, columns=slice(60, 90)))


def test_roll_shifts_each_column_circularly_by_its_own_offset_and_repeats_itself():
    steps = torch.arange(200.0)[:, None].repeat(1, 30)
    rolled = roll_in_time(steps, seed=1, repeat=0, columns=slice(60, 90))
    offsets = rolled[0].long()
    assert len(set(offsets.tolist())) > 20  # an offset of its own per column
    assert torch.equal(rolled, (torch.arange(200)[:, None] + offsets[None, :]).remainder(200).double())
    assert torch.equal(rolled, roll_in_time(steps, seed=1, repeat=0, columns=slice(60, 90)))
    assert not torch.equal(rolled, roll_in_time(steps, seed=1, repeat=1, columns=slice(60, 90)))


def smooth_recording(tmp_path, rng, planted: bool) -> Path:
    """Every parameter an independent slow AR(1) series (phi 0.97, as Adam's memory and drift make them), and,
    if ``planted``, two directions, each shared by a tenth of the parameters with a bump of its own in time."""
    t, d = 300, PARAMS.n_params
    noise = rng.normal(size=(t, d))
    series = np.zeros((t, d))
    series[0] = noise[0]
    for step in range(1, t):
        series[step] = 0.97 * series[step - 1] + noise[step]
    for centre in (100, 200) if planted else ():
        bump = np.exp(-0.5 * ((np.arange(t) - centre) / 15) ** 2)
        direction = np.zeros(d)
        direction[rng.choice(d, d // 10, replace=False)] = rng.normal(size=d // 10)
        series += 40 * np.outer(bump, direction)
    return write_recording(tmp_path / f"smooth_{planted}.h5", PARAMS, [{"grads": series}])


def test_the_roll_null_keeps_each_series_smoothness_where_the_shuffle_null_counts_it_as_structure(tmp_path, rng):
    """Independent smooth series share nothing across parameters, yet their slow drifts stand far above a band of
    shuffled copies; rolled copies keep the drifts, so nothing stands above them but a direction the parameters
    really share in time."""
    def above(path, null):
        with Recording(path) as recording:
            svd, _ = run_svd(recording, SVDOptions("grads", True, "all", 20, "gram", shuffles=3, surrogate=null))
        assert svd.attrs["nulls"]["surrogate"] == null
        return svd.attrs["nulls"]["n_above_shuffle"]

    independent = smooth_recording(tmp_path, rng, planted=False)
    # the roll's wrap point breaks each series' slowest drift once, so the data's leading drift can stay above
    assert above(independent, "shuffle") >= 10 and above(independent, "roll") <= 1
    assert above(smooth_recording(tmp_path, rng, planted=True), "roll") >= 2


def test_pure_noise_gives_no_components_above_the_nulls(tmp_path, rng):
    with Recording(planted_recording(tmp_path, rng, planted=False)) as recording:
        for method in ("gram", "randomized"):
            svd, _ = run_svd(recording, SVDOptions("grads", True, "all", 10, method, shuffles=3))
            assert svd.attrs["nulls"]["n_above_shuffle"] <= 1 and svd.attrs["nulls"]["n_above_mp"] <= 1


def test_cli_writes_svd_file_report_and_json(tmp_path, rng):
    path = planted_recording(tmp_path, rng, planted=True)
    result = subprocess.run([MISGEN, "svd", str(path), "--stream", "grads", "--k", "6", "--json"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["nulls"]["n_above_shuffle"] == 2 and summary["components"][0]["label"] == "early"
    out = path.with_suffix(".svd.h5")
    svd = SVDFile.load(out)
    assert svd.k == 6 and svd.arrays["loadings"].shape == (6, PARAMS.n_params)
    report = out.parent / "report" / out.stem
    assert {"report.md", "spectrum.png", "time_profiles.png", "loadings.png", "summary.json"} <= {
        p.name for p in report.iterdir()}
    again = subprocess.run([MISGEN, "svd", str(path), "--stream", "grads"], capture_output=True, text=True)
    assert again.returncode == 2 and "exists" in again.stderr


def test_bad_files_are_one_line_errors(tmp_path):
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(np.random.default_rng(0).bytes(4096))
    empty = tmp_path / "empty.h5"
    empty.write_bytes(b"")
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = np.zeros(3)
    truncated = tmp_path / "truncated.h5"
    good = write_recording(tmp_path / "good.h5", PARAMS, [{"grads": np.ones((4, PARAMS.n_params))}])
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    for bad in (corrupt, empty, foreign, truncated, tmp_path / "missing.h5"):
        result = misgen_in_process(["svd", str(bad), "--out", str(tmp_path / "o.h5")])
        assert result.returncode == 2, (bad, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "o.h5").exists()
    missing_stream = misgen_in_process(["svd", str(good), "--stream", "updates"])
    assert missing_stream.returncode == 2 and "no 'updates' stream" in missing_stream.stderr
