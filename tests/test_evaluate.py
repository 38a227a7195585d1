"""``tic evaluate``: outputs, the gray baseline against an independent skimage computation, text
modes (own, none, from another manifest), region judgements, and bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.color import lab2rgb, rgb2lab
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from tic import Colorizer, metrics
from tic.cli import main
from tic.color_names import term_rgb
from tic.data.manifest import Record, read_manifest, write_manifest
from tic.data.synthetic import make_synthetic
from tic.errors import TicError
from tic.evaluate import (
    METRIC_KEYS,
    Run,
    Sample,
    evaluate,
    judge,
    load_sample,
    load_samples,
    predict,
    score_image,
    score_sample,
    summarize,
    write_results,
)

DESIGN_KEYS = {"n", "psnr", "ssim", "lpips_vgg", "lpips_alex", "lpips_squeeze", "colorfulness",
               "text_color_accuracy"}  # fmt: skip


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("iso")
    make_synthetic(root, 3, size=32, seed=0)
    return root / "manifest.jsonl"


def run_cli(*args) -> int:
    return main(["evaluate", *map(str, args), "--device", "cpu", "--quiet"])


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_outputs_for_two_models_and_the_gray_baseline(tiny_model_dir, synthetic, tmp_path, capsys):
    out = tmp_path / "eval"
    rc = run_cli("--model", tiny_model_dir, "--model", tiny_model_dir, "--data", synthetic,
                 "--out", out, "--baseline", "gray")  # fmt: skip
    assert rc == 0
    result = json.loads((out / "metrics.json").read_text())
    assert DESIGN_KEYS <= set(result)
    assert result["n"] == 3 and result["failed"] == []
    assert result["lpips_squeeze"] is None  # no SqueezeNet weights given: unavailable, not guessed
    assert [r["name"] for r in result["runs"]] == ["tiny", "tiny (2)", "gray (ab = 0)"]
    assert result["images_per_s"] > 0
    gray = result["runs"][2]
    # the isoluminant set names only chromatic colours, except for gray backgrounds
    assert gray["text_chromatic_accuracy"] == 0.0
    assert gray["text_chromatic_judged"] <= gray["text_colors_judged"]
    table = (out / "metrics.md").read_text()
    for column in ("SSIM", "PSNR", "LPIPS(vgg)", "LPIPS(sqz)", "LPIPS(alex)", "Colourfulness",
                   "Text colour acc.", "Chromatic text colour acc."):  # fmt: skip
        assert column in table
    assert sum(line.startswith("| ") for line in table.splitlines()) == 4  # header + 3 runs
    assert "gray (ab = 0)" in capsys.readouterr().out
    rows = read_jsonl(out / "metrics.jsonl")
    assert len(rows) == 9
    # the two copies of one model agree exactly
    first, second = ([r for r in rows if r["model"] == m] for m in ("tiny", "tiny (2)"))
    assert [r["psnr"] for r in first] == [r["psnr"] for r in second]
    grid = Image.open(out / "grid.png")
    assert grid.width > 4 * 100 and grid.height > 3 * 100  # 5 columns, 3 rows of 160 px cells


def test_gray_baseline_metrics_match_skimage(tiny_model_dir, synthetic, tmp_path):
    out = tmp_path / "eval"
    assert run_cli("--model", tiny_model_dir, "--data", synthetic, "--out", out,
                   "--baseline", "gray") == 0  # fmt: skip
    rows = [r for r in read_jsonl(out / "metrics.jsonl") if r["model"] == "gray (ab = 0)"]
    for rec, row in zip(read_manifest(synthetic), rows, strict=True):
        truth = np.asarray(Image.open(rec.image).convert("RGB"), dtype=np.float64) / 255
        lab = rgb2lab(truth)
        lab[..., 1:] = 0
        gray = np.round(np.clip(lab2rgb(lab), 0, 1) * 255) / 255  # 8-bit output, as written
        ssim = structural_similarity(gray, truth, channel_axis=2, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False, data_range=1)  # fmt: skip
        assert abs(row["ssim"] - ssim) < 2e-3  # our 8-bit rounding of L may differ by one level
        assert abs(row["psnr"] - peak_signal_noise_ratio(truth, gray, data_range=1)) < 0.05
        assert row["colorfulness"] == pytest.approx(0.0, abs=0.2)


def test_ground_truth_passes_its_own_regions_and_gray_fails_the_chromatic_ones(synthetic):
    records = read_manifest(synthetic)
    for rec in records:
        sample = load_sample(rec, synthetic.parent)
        sample.text_judged = rec.text
        judged = judge(sample, sample.truth[0])
        assert judged and all(j.correct for j in judged)
        gray = sample.truth[0].mean(0, keepdim=True).repeat(3, 1, 1)
        for j in judge(sample, gray):
            assert j.correct == (j.term == "gray")


def test_new_text_is_judged_on_the_regions_it_names(synthetic):
    rec = read_manifest(synthetic)[0]
    sample = load_sample(rec, synthetic.parent)
    shapes = [n for _, _, n in sample.regions if n != "background"]
    # draw the output the new text asks for: the first shape red, the background blue
    rgb = torch.tensor(term_rgb("blue")).view(3, 1, 1).repeat(1, 32, 32).float()
    first_mask = sample.regions[0][0]
    rgb[:, first_mask] = torch.tensor(term_rgb("red")).view(3, 1).float()
    sample.text_judged = f"a red {shapes[0]} on a blue background"
    sample.own_text = False
    judged = {j.region: (j.term, j.correct) for j in judge(sample, rgb)}
    assert judged == {shapes[0]: ("red", True), "background": ("blue", True)}
    sample.text_judged = f"a green {shapes[0]}"
    assert [(j.term, j.correct) for j in judge(sample, rgb)] == [("green", False)]


def test_no_text_and_text_from(tiny_model_dir, synthetic, tmp_path):
    records = read_manifest(synthetic)
    out = tmp_path / "none"
    assert run_cli("--model", tiny_model_dir, "--data", synthetic, "--out", out, "--no-text") == 0
    rows = read_jsonl(out / "metrics.jsonl")
    assert [r["text"] for r in rows] == ["", "", ""]
    assert [r["judged_text"] for r in rows] == [r.text for r in records]

    out = tmp_path / "self"
    assert run_cli("--model", tiny_model_dir, "--data", synthetic, "--out", out,
                   "--text-from", synthetic) == 0  # fmt: skip
    rows = read_jsonl(out / "metrics.jsonl")
    shifted = [records[(i + 1) % 3].text for i in range(3)]  # the same manifest: another image's
    assert [r["text"] for r in rows] == shifted == [r["judged_text"] for r in rows]

    other = tmp_path / "other.jsonl"
    write_manifest(other, [Record(image=records[0].image, text="a blue square on a red background")])
    out = tmp_path / "other"
    assert run_cli("--model", tiny_model_dir, "--data", synthetic, "--out", out,
                   "--text-from", other) == 0  # fmt: skip
    rows = read_jsonl(out / "metrics.jsonl")
    assert {r["judged_text"] for r in rows} == {"a blue square on a red background"}
    assert json.loads((out / "metrics.json").read_text())["text_mode"] == "from"


def test_text_from_a_manifest_without_texts_is_an_error(tiny_model_dir, synthetic, tmp_path, capsys):
    empty = tmp_path / "notext.jsonl"
    write_manifest(empty, [Record(image=r.image, text="") for r in read_manifest(synthetic)])
    rc = run_cli("--model", tiny_model_dir, "--data", synthetic, "--out", tmp_path / "o",
                 "--text-from", empty)  # fmt: skip
    assert rc == 2
    err = capsys.readouterr().err
    assert "notext.jsonl: no record has a text" in err and "Traceback" not in err


def test_a_folder_that_is_not_a_model_folder_is_an_error(synthetic, tmp_path, capsys):
    folder = tmp_path / "not_a_model"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"\0")
    assert run_cli("--model", folder, "--data", synthetic, "--out", tmp_path / "o") == 2
    assert "not_a_model: not a model folder (no config.json)" in capsys.readouterr().err


def test_nan_image_is_reported_and_the_others_are_evaluated(tiny_model_dir, synthetic, tmp_path, capsys):
    arr = np.full((32, 32), 0.5, dtype=np.float32)
    arr[3, 4] = np.nan
    bad = tmp_path / "nan.tif"
    Image.fromarray(arr, mode="F").save(bad)
    # (regions' mask paths are relative to their manifest: these records leave them out)
    good = [Record(image=r.image, text=r.text, mask=r.mask) for r in read_manifest(synthetic)[:2]]
    records = [*good, Record(image=bad, text="a red circle")]
    manifest = tmp_path / "with_nan.jsonl"
    write_manifest(manifest, records)
    rc = run_cli("--model", tiny_model_dir, "--data", manifest, "--out", tmp_path / "o")
    assert rc == 1
    err = capsys.readouterr().err
    assert "nan.tif: image contains NaN or infinite values" in err
    result = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert result["n"] == 2 and len(result["failed"]) == 1


def test_prediction_and_truth_of_different_sizes_is_a_clear_error():
    pred, truth = torch.rand(1, 3, 32, 40), torch.rand(1, 3, 32, 32)
    with pytest.raises(TicError, match="photo.png: prediction is 40x32 but the truth is 32x32"):
        score_image(pred, truth, "photo.png", {})
    nan = truth.clone()
    nan[0, 0, 0, 0] = math.nan
    with pytest.raises(TicError, match="prediction contains NaN"):
        score_image(nan, truth, "photo.png", {})


def test_alpha_is_the_object_mask_of_a_cut_out(tmp_path):
    rgba = np.zeros((24, 24, 4), dtype=np.uint8)
    rgba[6:18, 6:18] = (200, 30, 30, 255)
    path = tmp_path / "cutout.png"
    Image.fromarray(rgba, "RGBA").save(path)
    sample = load_sample(Record(image=path, text="a red ball"), tmp_path)
    assert isinstance(sample, Sample) and int(sample.mask.sum()) == 144
    sample.text_judged = "a red ball"
    assert [(j.region, j.correct) for j in judge(sample, sample.truth[0])] == [("object", True)]


def test_object_colour_accuracy_of_composites(tiny_model_dir, tmp_path):
    """Composites' ``"object"`` regions get their own share: gray shows no chromatic object."""
    from tic.color_names import colors_in_text
    from tic.data.composites import make_composites

    from .test_data_photos import write_pool

    recs = make_composites(write_pool(tmp_path), tmp_path / "c", n=4, size=32, seed=0)
    out = tmp_path / "eval"
    assert run_cli("--model", tiny_model_dir, "--data", tmp_path / "c" / "manifest.jsonl",
                   "--out", out, "--baseline", "gray") == 0  # fmt: skip
    result = json.loads((out / "metrics.json").read_text())
    gray = result["runs"][1]
    named_on_objects = [colors_in_text(r.text)[:-1] for r in recs]  # the last one is the background's
    assert gray["text_object_judged"] == sum(map(len, named_on_objects))
    chromatic = [t for ts in named_on_objects for t in ts if t not in ("black", "white", "gray")]
    assert gray["text_object_accuracy"] <= 1 - len(chromatic) / gray["text_object_judged"]
    assert "Object colour acc." in (out / "metrics.md").read_text()


# --- the pieces of evaluate() --------------------------------------------------------------------


def test_the_pieces_give_what_evaluate_writes(tiny_model_dir, synthetic, tmp_path):
    """load_samples -> predict -> score_sample -> summarize, called by hand, agree with evaluate()."""
    records = read_manifest(synthetic)
    colorizer = Colorizer.from_pretrained(tiny_model_dir, device="cpu")
    samples, failed = load_samples(records, range(len(records)), synthetic.parent, "none")
    assert failed == [] and len(samples) == 3
    assert [(s.text_in, s.text_judged) for s in samples] == [("", r.text) for r in records]
    runs = [Run("tiny", colorizer), Run("gray")]
    outputs = predict(runs, samples)
    assert [len(v) for v in outputs.values()] == [3, 3]
    lpips_models = {net: metrics.lpips_model(net) for net in ("vgg", "alex")}
    for k, sample in enumerate(samples):
        scored = score_sample(sample, [outputs[r.name][k] for r in runs], runs, lpips_models,
                              torch.device("cpu"))
        for run, (row, pred) in zip(runs, scored, strict=True):
            assert pred.shape == sample.truth.shape
            run.rows.append(row)
    result = evaluate(records, [Run("tiny", colorizer), Run("gray")], tmp_path / "e",
                      synthetic.parent, text_mode="none", progress=False)
    assert [summarize(run) for run in runs] == result["runs"]
    assert read_jsonl(tmp_path / "e" / "metrics.jsonl") == [
        row for k in range(3) for row in (runs[0].rows[k], runs[1].rows[k])
    ]


def test_the_summary_counts_the_judgements_in_the_rows():
    def row(*colors):
        return {**dict.fromkeys(METRIC_KEYS, 1.0), "colors": [
            {"term": t, "region": r, "found": [], "ok": ok} for t, r, ok in colors]}  # fmt: skip

    rows = [row(("red", "object", True), ("gray", "background", True)),
            row(("blue", "object", False)), row()]  # fmt: skip
    summary = summarize(Run("m", rows=rows))
    assert summary["n"] == 3 and summary["psnr"] == 1.0
    assert (summary["text_color_accuracy"], summary["text_colors_judged"]) == (2 / 3, 3)
    assert (summary["text_chromatic_accuracy"], summary["text_chromatic_judged"]) == (1 / 2, 2)
    assert (summary["text_object_accuracy"], summary["text_object_judged"]) == (1 / 2, 2)
    assert summarize(Run("empty"))["text_color_accuracy"] is None


def test_write_results_writes_the_tables(tmp_path):
    summary = summarize(Run("m", rows=[{**dict.fromkeys(METRIC_KEYS, 0.5), "psnr": math.inf,
                                        "colors": []}]))  # fmt: skip
    result = {**summary, "text_mode": "own", "truth_colorfulness": None, "runs": [summary]}
    write_results(tmp_path, result, [summary], None)
    assert json.loads((tmp_path / "metrics.json").read_text())["psnr"] is None  # inf -> null
    assert "| m | 1 |" in (tmp_path / "metrics.md").read_text()
    assert not (tmp_path / "grid.png").exists()


def test_all_objects_right_counts_images_whose_every_object_is_right():
    from tic.evaluate import Run, summarize

    def row(*oks):
        return {"colors": [{"term": "red", "region": "object", "found": [], "ok": ok}
                           for ok in oks], **dict.fromkeys(METRIC_KEYS_FOR_TEST, 1.0)}

    run = Run("m", rows=[row(True, True), row(True, False), row(True), row(False, False)])
    s = summarize(run)
    # three images name two objects; one of them has both right
    assert s["text_all_objects_judged"] == 3
    assert s["text_all_objects_accuracy"] == 1 / 3
    assert s["text_object_accuracy"] == 4 / 7


METRIC_KEYS_FOR_TEST = ("psnr", "ssim", "lpips_vgg", "lpips_alex", "lpips_squeeze", "colorfulness")
