"""``tic evaluate``: outputs, the gray baseline against an independent skimage computation, text
modes (own, none, from another manifest), region judgements, bad input, point hints (the
points drawn by hand, ``--hints N``, ``--hint-curve``, a model without a hint module refused) and
the bleed measure (``ab_change`` against skimage, ``--bleed``, ``--no-text --bleed`` refused)."""

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
    HINT_CURVE_COUNTS,
    METRIC_KEYS,
    Run,
    Sample,
    ab_change,
    curve_markdown,
    draw_hints,
    evaluate,
    hint_ab_errors,
    judge,
    load_sample,
    load_samples,
    markdown_table,
    predict,
    predict_empty,
    score_image,
    score_sample,
    summarize,
    summarize_curve,
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


# --- point hints ---------------------------------------------------------------------------------


def test_draw_hints_by_hand():
    # 5x5: the only pixel 2 px from every border is the centre, its patch the whole image
    r = np.arange(25).reshape(5, 5)  # mean 12
    g = np.full((5, 5), 255)
    g[0, 0] = 0  # mean 244.8 -> 245
    b = np.full((5, 5), 11)
    b.flat[:12] = 10  # mean 10.52 -> 11
    truth = torch.from_numpy(np.stack([r, g, b]) / 255).float()
    assert draw_hints(truth, 3) == [(2, 2, (12, 245, 11))] * 3

    # a random 8-bit image: every point inside the border, its colour the 5x5 mean, rounded
    rgb8 = np.random.default_rng(1).integers(0, 256, (3, 9, 11))  # (3, H, W)
    truth = torch.from_numpy(rgb8 / 255).float()[None]
    points = draw_hints(truth, 30, seed=4)
    assert len(points) == 30 and len({(x, y) for x, y, _ in points}) > 10
    for x, y, colour in points:
        assert 2 <= x <= 11 - 3 and 2 <= y <= 9 - 3
        patch = [[int(rgb8[c, y + dy, x + dx]) for dy in range(-2, 3) for dx in range(-2, 3)]
                 for c in range(3)]  # fmt: skip
        assert colour == tuple(int(math.floor(sum(v) / 25 + 0.5)) for v in patch)
    # seeded by the seed and the pixels: the same image anywhere gets the same points, the
    # points for k are the first k of any more, another seed or image gets others
    assert draw_hints(truth[0].clone(), 30, seed=4) == points
    assert draw_hints(truth, 5, seed=4) == points[:5]
    assert draw_hints(truth, 30, seed=5) != points
    other = truth.clone()
    other[0, 0, 0, 0] = 1 - other[0, 0, 0, 0]
    assert draw_hints(other, 30, seed=4) != points
    with pytest.raises(TicError, match=r"small.png: 4x9 is too small for point hints"):
        draw_hints(torch.rand(3, 9, 4), 1, name="small.png")


def test_hint_ab_error_is_the_lab_ab_distance_at_the_hint():
    hints = [(1, 2, (200, 40, 40)), (3, 0, (30, 90, 200))]
    same = Image.new("RGB", (5, 4), (200, 40, 40))
    same.putpixel((3, 0), (30, 90, 200))
    assert hint_ab_errors(same, hints) == pytest.approx([0, 0], abs=1e-9)
    gray = Image.new("RGB", (5, 4), (128, 128, 128))  # a = b = 0 (to 0.01)
    chroma = [np.hypot(*rgb2lab(np.array(c)[None, None] / 255)[0, 0, 1:]) for _, _, c in hints]
    assert hint_ab_errors(gray, hints) == pytest.approx(chroma, abs=0.02)


@pytest.fixture(scope="module")
def hint_model_dir(tmp_path_factory):
    """A tiny encoder U-Net WITH a hint module, untrained (its HintSpread already spreads a
    point's colour: at the point the output is close to the hint)."""
    from tic.config import EncoderUNetConfig, ModelConfig, TextEncoderConfig

    from .conftest import TEXTS

    network = EncoderUNetConfig(encoder="mobilenet_v2", decoder_widths=(40, 12, 8, 8), text_dim=6,
                                text_hidden=8, cross_attention=0, hints=True)  # fmt: skip
    config = ModelConfig(image_size=64, architecture="encoder_unet", encoder_unet=network,
                         text_encoder=TextEncoderConfig(kind="word2vec", dim=6))  # fmt: skip
    folder = tmp_path_factory.mktemp("models") / "hinted"
    Colorizer.from_config(config, TEXTS, seed=0, device="cpu").save_pretrained(folder)
    return folder


def test_hints_n(hint_model_dir, synthetic, tmp_path):
    out = tmp_path / "five"
    assert run_cli("--model", hint_model_dir, "--data", synthetic, "--out", out, "--hints", 5,
                   "--baseline", "gray", "--no-text") == 0  # fmt: skip
    result = json.loads((out / "metrics.json").read_text())
    assert result["hints"] == 5 and result["hint_seed"] == 0 and result["n"] == 3
    model, gray = result["runs"]
    assert result["hint_ab_error"] == model["hint_ab_error"]
    # the hint module puts the hint's colour at its pixel (the bar: within 8); gray does not
    assert model["hint_ab_error"] < 8 < gray["hint_ab_error"]
    assert "ab error at hints" in (out / "metrics.md").read_text()
    rows = read_jsonl(out / "metrics.jsonl")
    assert all(len(r["hints"]) == 5 and len(r["hint_ab_errors"]) == 5 for r in rows)
    assert rows[0]["hints"] == rows[1]["hints"]  # model and gray: one image, the same points
    for rec, row in zip(read_manifest(synthetic), rows[::2], strict=True):
        truth = load_sample(rec, synthetic.parent).truth
        assert row["hints"] == [[x, y, list(c)] for x, y, c in draw_hints(truth, 5)]

    # the same seed, another batch size: the same points and metrics; another seed: others
    again = tmp_path / "again"
    assert run_cli("--model", hint_model_dir, "--data", synthetic, "--out", again, "--hints", 5,
                   "--baseline", "gray", "--no-text", "--batch-size", 1) == 0  # fmt: skip
    assert read_jsonl(again / "metrics.jsonl") == rows
    other = tmp_path / "seed1"
    assert run_cli("--model", hint_model_dir, "--data", synthetic, "--out", other, "--hints", 5,
                   "--no-text", "--seed", 1) == 0  # fmt: skip
    assert [r["hints"] for r in read_jsonl(other / "metrics.jsonl")] != [r["hints"] for r in rows[::2]]


def test_hint_curve(hint_model_dir, synthetic, tmp_path, capsys):
    out = tmp_path / "curve"
    assert run_cli("--model", hint_model_dir, "--data", synthetic, "--out", out, "--hint-curve",
                   "--no-text") == 0  # fmt: skip
    curve = json.loads((out / "hint_curve.json").read_text())
    assert curve["counts"] == list(HINT_CURVE_COUNTS) == [0, 1, 2, 5, 10, 20]
    psnr, gain, ab_error = (curve[k]["hinted"] for k in ("psnr", "gain_db", "hint_ab_error"))
    assert len(psnr) == len(gain) == len(ab_error) == 6
    assert gain == pytest.approx([p - psnr[0] for p in psnr]) and gain[0] == 0
    assert ab_error[0] is None and all(isinstance(e, float) and e >= 0 for e in ab_error[1:])
    assert gain[-1] > 0  # 20 points of the truth make the untrained model's output closer to it
    # the usual files are for 0 points, with the same samples as the curve
    result = json.loads((out / "metrics.json").read_text())
    assert result["hints"] == 0 and result["psnr"] == pytest.approx(psnr[0])
    assert "hints" not in read_jsonl(out / "metrics.jsonl")[0]
    table = (out / "hint_curve.md").read_text()
    assert table in capsys.readouterr().out
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    assert len(lines) == 1 + 6
    assert "Zhang et al. (ImageNet, 256^2): PSNR" in lines[0] and "| +4.91 |" in lines[-1]
    # a count of the curve is what --hints gives for it: the same points, the same PSNR
    five = tmp_path / "five"
    assert run_cli("--model", hint_model_dir, "--data", synthetic, "--out", five, "--hints", 5,
                   "--no-text") == 0  # fmt: skip
    five_result = json.loads((five / "metrics.json").read_text())
    assert five_result["psnr"] == pytest.approx(psnr[3])
    assert five_result["hint_ab_error"] == pytest.approx(ab_error[3])


@pytest.mark.parametrize("flag", [("--hints", "2"), ("--hint-curve",)])
def test_a_model_without_a_hint_module_is_refused(tiny_model_dir, synthetic, tmp_path, capsys,
                                                  flag):
    out = tmp_path / "o"
    assert run_cli("--model", tiny_model_dir, "--data", synthetic, "--out", out, *flag) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert lines == ["tic: error: model tiny: this model takes no point hints "
                     "(its encoder_unet.hints is off)"]  # fmt: skip
    assert not out.exists()


def test_too_many_hints_and_a_negative_seed_are_one_line_errors(synthetic, tmp_path, capsys):
    from tic.hints import MAX_HINTS

    out = tmp_path / "o"
    with pytest.raises(TicError, match=f"point hints per image must be 0 .. {MAX_HINTS}, got 33"):
        evaluate(read_manifest(synthetic), [Run("gray")], out, synthetic.parent, hints=33)
    assert run_cli("--data", synthetic, "--out", out, "--hints", 1, "--seed", -1) == 2
    assert "tic: error: --seed must be 0 or more, got -1" in capsys.readouterr().err
    assert not out.exists()


def test_curve_summary_and_table_by_hand():
    def rows(psnrs, errors):
        return [{"psnr": p, "hint_ab_errors": e} for p, e in zip(psnrs, errors, strict=True)]

    curve = summarize_curve({0: {"m": rows([20.0, 22.0], [[], []])},
                             1: {"m": rows([21.0, 24.0], [[3.0], [1.0]])},
                             5: {"m": rows([23.0, 25.0], [[1.0, 2.0, 9.0], [4.0, 5.0]])}},
                            n=2, text_mode="none", seed=0)  # fmt: skip
    assert curve["counts"] == [0, 1, 5]
    assert curve["psnr"] == {"m": [21.0, 22.5, 24.0]}
    assert curve["gain_db"] == {"m": [0.0, 1.5, 3.0]}
    assert curve["hint_ab_error"] == {"m": [None, 2.0, 4.0]}  # medians over all hints
    lines = curve_markdown(curve).splitlines()
    assert lines[2] == "| 0 | 21.00 | +0.00 | n/a | 24.43 | +0.00 | n/a |"
    assert lines[3] == "| 1 | 22.50 | +1.50 | 2.00 | 25.37 | +0.94 | n/a |"
    assert lines[4] == "| 5 | 24.00 | +3.00 | 4.00 | 27.39 | +2.96 | n/a |"


# --- bleed ---------------------------------------------------------------------------------------


def _ab(rgb) -> np.ndarray:
    """skimage's ab of an 8-bit colour: the independent reference."""
    return rgb2lab(np.array(rgb, dtype=np.float64)[None, None] / 255)[0, 0, 1:]


def test_ab_change_by_hand():
    """Inside (a 2x3 block) the text made red of gray; outside it made 4 of the 18 pixels green."""
    gray, red, green = (120, 120, 120), (200, 60, 60), (100, 140, 100)
    empty = Image.new("RGB", (6, 4), gray)  # W x H = 6 x 4
    text = empty.copy()
    inside = torch.zeros(4, 6, dtype=torch.bool)
    inside[1:3, 2:5] = True  # 6 pixels
    for y, x in inside.nonzero().tolist():
        text.putpixel((x, y), red)
    for x, y in [(0, 0), (1, 0), (5, 3), (0, 3)]:
        text.putpixel((x, y), green)
    change_inside, change_outside = ab_change(text, empty, inside)
    assert change_inside == pytest.approx(np.linalg.norm(_ab(red) - _ab(gray)), abs=1e-3)
    assert change_outside == pytest.approx(4 / 18 * np.linalg.norm(_ab(green) - _ab(gray)), abs=1e-3)
    assert ab_change(empty, empty, inside) == pytest.approx((0.0, 0.0), abs=1e-9)
    # a side without pixels: nothing to measure
    assert ab_change(text, empty, torch.zeros(4, 6, dtype=torch.bool)) == (None, None)
    assert ab_change(text, empty, torch.ones(4, 6, dtype=torch.bool)) == (None, None)
    with pytest.raises(ValueError, match=r"inside must be \(4, 6\)"):
        ab_change(text, empty, inside.T)


def test_bleed_summary_is_a_ratio_of_means():
    def row(inside, outside):
        return {**dict.fromkeys(METRIC_KEYS, 1.0), "colors": [], "change_inside": inside,
                "change_outside": outside}  # fmt: skip

    run = Run("m", rows=[row(2.0, 1.0), row(4.0, 1.0), row(None, None)])
    s = summarize(run, bleed=True)
    assert (s["change_inside"], s["change_outside"], s["bleed_images"]) == (3.0, 1.0, 2)
    assert s["bleed"] == pytest.approx(1 / 3)  # the mean of the ratios would be 3/8
    assert summarize(Run("m", rows=[row(0.0, 1.0)]), bleed=True)["bleed"] is None  # inside 0
    unmeasured = summarize(Run("gray", rows=[row(None, None)]), bleed=True)
    assert (unmeasured["change_inside"], unmeasured["bleed"], unmeasured["bleed_images"]) == (
        None, None, 0)  # fmt: skip
    assert "bleed" not in summarize(run)  # not asked: no keys
    table = markdown_table([s, unmeasured], "own", None)
    assert "bleed (out/in) ↓" in table and "| 0.333 (2) |" in table and "| n/a |" in table
    assert "bleed" not in markdown_table([summarize(run)], "own", None)


def test_evaluate_with_bleed(tiny_model_dir, synthetic, tmp_path):
    """Rows and summaries of evaluate(bleed=True), the rows recomputed from the pieces: the
    model's own-text and empty-text outputs and the union of the regions."""
    records = read_manifest(synthetic)
    # the last record without its regions: colorized, not measured
    records[2] = Record(image=records[2].image, text=records[2].text, mask=records[2].mask)
    colorizer = Colorizer.from_pretrained(tiny_model_dir, device="cpu")
    out = tmp_path / "bleed"
    result = evaluate(records, [Run("tiny", colorizer), Run("gray")], out, synthetic.parent,
                      bleed=True, progress=False)  # fmt: skip
    model, gray = result["runs"]
    rows = read_jsonl(out / "metrics.jsonl")
    model_rows = [r for r in rows if r["model"] == "tiny"]
    assert [r["change_inside"] is None for r in model_rows] == [False, False, True]
    assert all(r["change_inside"] is None and r["change_outside"] is None
               for r in rows if r["model"] == "gray")  # fmt: skip
    samples, _ = load_samples(records, range(3), synthetic.parent)
    own = predict([Run("tiny", colorizer)], samples)["tiny"]
    empty = predict_empty([Run("tiny", colorizer), Run("gray")], samples)
    assert list(empty) == ["tiny"] and empty["tiny"][2] is None
    for k in range(2):
        inside = torch.stack([m for m, _, _ in samples[k].regions]).any(0)
        expected = ab_change(own[k], empty["tiny"][k], inside)
        assert (model_rows[k]["change_inside"], model_rows[k]["change_outside"]) == pytest.approx(
            expected)  # fmt: skip
    assert model["change_inside"] > 0  # the untrained model's colours still follow its text
    assert model["bleed_images"] == 2
    assert model["change_inside"] == pytest.approx(np.mean([r["change_inside"] for r in model_rows[:2]]))
    assert model["bleed"] == pytest.approx(model["change_outside"] / model["change_inside"])
    assert (gray["change_inside"], gray["bleed"], gray["bleed_images"]) == (None, None, 0)
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["bleed"] == model["bleed"] and saved["change_outside"] == model["change_outside"]
    assert "bleed (out/in)" in (out / "metrics.md").read_text()


def test_bleed_flag_reaches_evaluate(tiny_model_dir, synthetic, tmp_path, capsys):
    out = tmp_path / "recolor"
    assert run_cli("--model", tiny_model_dir, "--data", synthetic, "--out", out, "--bleed",
                   "--text-from", synthetic) == 0  # fmt: skip
    result = json.loads((out / "metrics.json").read_text())
    assert result["bleed_images"] == 3 and result["bleed"] is not None
    assert all(r["change_inside"] is not None for r in read_jsonl(out / "metrics.jsonl"))
    assert "bleed (out/in)" in capsys.readouterr().out

    out = tmp_path / "plain"  # without --bleed: no keys, no column
    assert run_cli("--data", synthetic, "--out", out, "--model", tiny_model_dir, "--limit", 1) == 0
    assert "bleed" not in json.loads((out / "metrics.json").read_text())
    assert "change_inside" not in read_jsonl(out / "metrics.jsonl")[0]
    assert "bleed" not in (out / "metrics.md").read_text()


def test_no_text_with_bleed_is_refused_before_anything_is_written(tiny_model_dir, synthetic,
                                                                   tmp_path, capsys):
    out = tmp_path / "o"
    assert run_cli("--model", tiny_model_dir, "--data", synthetic, "--out", out, "--no-text",
                   "--bleed") == 2  # fmt: skip
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert lines == ["tic: error: the bleed measure compares the text's output with the empty "
                     "text's; with no text (--no-text) there is nothing to compare"]  # fmt: skip
    assert not out.exists()
