"""Tests of the funnel figures (genomlysning.plots): labels, and no suppressed value drawn."""

from __future__ import annotations

import hashlib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from test_funnel import fixture  # noqa: E402

from genomlysning import disclose, funnel, funnel_report, paths, personnummer, plots, report, schema  # noqa: E402


@pytest.fixture(scope="module")
def rep() -> funnel_report.FunnelReport:
    return funnel_report.analyse(fixture(), 2025, k=3, period_slut="2025-12-31")


def _texts(fig: plt.Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [t.get_text() for t in fig.texts]


def test_funnel_chart_draws_no_hidden_bar(rep: funnel_report.FunnelReport) -> None:
    fig = plots.funnel_chart(rep.masked["tratt"], k=3)
    ax_akt, ax_barn = fig.axes
    widths = [p.get_width() for p in ax_akt.patches][::-1]  # bars are drawn bottom-up
    masked = rep.masked["tratt"][rep.masked["tratt"]["enhet"] == "aktualiseringar"]["n"].tolist()
    for w, n in zip(widths, masked[::-1], strict=True):
        assert w == (0 if disclose.is_suppressed(n) else n)
    assert disclose.SUPPRESSED in [t.get_text() for t in ax_akt.texts]
    assert "8 (100\u00a0%)" in [t.get_text() for t in ax_akt.texts]
    assert [t.get_text() for t in ax_akt.get_yticklabels()][0] == schema.text("aktualisering")
    assert ax_barn.get_title() == schema.text("barn")
    plt.close(fig)


def test_english_labels(rep: funnel_report.FunnelReport) -> None:
    fig = plots.funnel_chart(rep.masked["tratt"], lang="en")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[-1] == schema.label("insats_startad", "en")
    assert fig.axes[0].get_xlabel() == schema.text("antal", "en")
    plt.close(fig)


def test_rate_plot_skips_hidden_points() -> None:
    t = pd.DataFrame({"variabel": "anmalare", "kategori": ["polisen", "skola", "forskola", "anhorig"],
                      "n": [40, 38, 2, 30], "x": [10, 20, 0, 12]})
    for c, v in funnel._rate_columns("andel", t["x"], t["n"]).items():
        t[c] = v
    masked = disclose.mask_table(t, ["n", "x"], 5, linked={c: ["n", "x"] for c in t if c.startswith("andel")},
                                 margins="columns")
    fig = plots.rate_plot(masked, "andel", title="T", n_col="n", k=5)
    ax = fig.axes[0]
    drawn = np.concatenate([np.asarray(line.get_xdata(), dtype=float) for line in ax.lines
                            if len(line.get_xdata())])
    visible = [100 * v for v in masked["andel"] if not disclose.is_suppressed(v)]
    assert set(np.round(visible, 6)) <= set(np.round(drawn, 6))
    hidden_rates = 100 * t.loc[masked["andel"].map(disclose.is_suppressed), "andel"]
    assert not set(np.round(hidden_rates, 6)) & set(np.round(drawn, 6))
    labels = [x.get_text() for x in ax.get_yticklabels()]
    assert labels == ["Polisen (n = 40)", "Skola (n = 38)", "Förskola (n = ..)", "Anhörig (n = ..)"]
    assert len(visible) == 2 and len(hidden_rates) == 2
    assert disclose.SUPPRESSED in _texts(fig)
    plt.close(fig)


def test_time_curves_respect_k() -> None:
    rng = np.random.default_rng(1)
    days = rng.integers(0, 30, 60)
    d = funnel.Durations(days=days, event=rng.random(60) < 0.8, group=np.array(["vald", "barnet"] * 30))
    k = 5
    raw = funnel.time_curves(d, funnel.FB_DAYS)
    curves = disclose.mask_table(raw, ["n_grupp", "n_oppna", "n_klara"], k, margins=False,
                                 linked={c: ["n_klara", "n_oppna", "n_grupp"] for c in raw.columns
                                         if c.startswith("andel")})
    fig = plots.time_curves(d, curves, "fb", k=k, horizon=60, groups=["vald", "barnet"])
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.lines}
    assert {"Totalt", "Våld i nära relation"} <= set(lines)
    for name, label in ((funnel.TOTAL, "Totalt"), ("vald", "Våld i nära relation")):
        rows = curves[curves["arendetyp"] == name]
        shown = disclose.visible(rows["andel_klara"].astype(object)).to_numpy()
        x, y = (np.asarray(v, dtype=float) for v in lines[label].get_data())
        # only the published days, only the published values (a hidden value is a gap)
        assert set(x.tolist()) <= set(funnel.FB_DAYS)
        np.testing.assert_allclose(y[~np.isnan(y)], 100 * shown[~np.isnan(shown)])
    plt.close(fig)
    hidden = curves.assign(andel_klara=disclose.SUPPRESSED)
    fig = plots.time_curves(d, hidden, "fb", k=k, horizon=60, groups=["vald", "barnet"])
    assert not [line for line in fig.axes[0].lines if line.get_label() in ("Totalt", "Våld i nära relation")]
    plt.close(fig)


def test_figures_are_byte_reproducible(rep: funnel_report.FunnelReport, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paths, "REPORTS_DIR", tmp_path)
    digests = []
    for _ in range(2):
        fig = plots.stage_rates(rep.masked["fordelning_aktualiseringar"], "arendetyp",
                                ["utredning_inledd", "insats_erbjuden"], k=3)
        path = report.save_figure(fig, "x", "02_fig")
        plt.close(fig)
        digests.append(hashlib.sha256(path.read_bytes()).hexdigest())
    assert digests[0] == digests[1]


def test_a_year_without_rows_still_draws() -> None:
    empty = funnel_report.analyse(fixture(), 2030, k=3, period_slut="2030-12-31")
    assert empty.masked["tratt"]["n"].tolist() == [0] * 14
    for fig in (plots.funnel_chart(empty.masked["tratt"]),
                plots.time_curves(empty.durations["fb"], empty.masked["tid_fb"], "fb", k=3, horizon=60)):
        assert fig.axes
        plt.close(fig)


# -- no personnummer in a figure, no text chunks in a PNG ---------------------------------------

PNR = "19121212-1212"


def _all_texts(fig: plt.Figure) -> list[str]:
    from matplotlib.text import Text

    return [t.get_text() for t in fig.findobj(Text)]


def _rates(kategorier: list[str]) -> pd.DataFrame:
    n = len(kategorier)
    return pd.DataFrame({"variabel": ["omrade"] * n, "kategori": kategorier, "n": [40] * n,
                         "andel": [0.5] * n, "andel_lo": [0.4] * n, "andel_hi": [0.6] * n})


def test_safe_label_masks_personnummer_like_text(monkeypatch: pytest.MonkeyPatch) -> None:
    from genomlysning import clean

    assert report.safe_label("Norrvik") == "Norrvik"
    assert report.safe_label(f"Område {PNR}") == f"Område {personnummer.MASK}"
    assert PNR.replace("-", "") not in report.safe_label(f"x{PNR.replace('-', '')}y")
    monkeypatch.setattr(clean, "mask_text", lambda text: text)  # a masker that misses what is detected
    assert report.safe_label(f"Område {PNR}") == personnummer.MASK


def test_data_labels_and_titles_are_masked_before_drawing() -> None:
    fig = plots.rate_plot(_rates(["Nord", f"Syd {PNR}"]), "andel", title=f"Norrvik {PNR}", n_col="n")
    texts = _all_texts(fig)
    assert not any(PNR in t for t in texts)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [
        "Nord (n = 40)", f"Syd {personnummer.MASK} (n = 40)"]
    plt.close(fig)
    tratt = funnel_report.analyse(fixture(), 2025, k=3, period_slut="2025-12-31").masked["tratt"]
    fig = plots.funnel_chart(tratt, title=f"Flödet i {PNR}")
    assert fig._suptitle is not None and PNR not in fig._suptitle.get_text()
    plt.close(fig)


def test_save_figure_masks_every_text_of_the_figure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paths, "REPORTS_DIR", tmp_path)
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1], label=f"linje {PNR}")
    ax.set_yticks([0, 1], ["noll", PNR])
    ax.xaxis.set_major_formatter(lambda x, pos: f"{x:.1f} {PNR}")
    ax.set_title(f"titel {PNR}")
    ax.text(0.5, 0.5, f"text {PNR}")
    ax.legend()
    fig.suptitle(PNR)
    path = report.save_figure(fig, "x", "02_fig")
    assert path.is_file()
    texts = _all_texts(fig)
    assert texts and not any("1212-1212" in t or "121212121212" in t for t in texts)
    assert f"titel {personnummer.MASK}" in texts
    fig.canvas.draw()  # tick labels are drawn again from the formatters
    ticks = [t.get_text() for t in ax.get_yticklabels() + ax.get_xticklabels()]
    assert ticks[:2] == ["noll", personnummer.MASK] and f"0.4 {personnummer.MASK}" in ticks
    assert not any(PNR in t for t in ticks)
    plt.close(fig)


def test_save_figure_refuses_text_it_cannot_mask(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from matplotlib.text import Text

    class Regenerating(Text):
        """A text that writes itself afresh whenever it is drawn (as no mask can stop)."""

        def draw(self, renderer: object) -> None:
            self.set_text(PNR)
            super().draw(renderer)

    monkeypatch.setattr(paths, "REPORTS_DIR", tmp_path)
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.xaxis.set_major_formatter(lambda x, pos: PNR)  # tick labels from a formatter: masked
    fig.add_artist(Regenerating(0.5, 0.5, ""))
    with pytest.raises(ValueError, match="could not be masked") as err:
        report.save_figure(fig, "x", "02_fig")
    assert PNR not in str(err.value)
    assert not (tmp_path / "x" / "figures" / "02_fig.png").exists()
    assert not plt.fignum_exists(fig.number)  # closed: not shown in the notebook either


def test_saved_png_holds_no_text_chunks(rep: funnel_report.FunnelReport, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from matplotlib.figure import Figure

    from genomlysning import leakscan

    monkeypatch.setattr(paths, "REPORTS_DIR", tmp_path)
    savefig = Figure.savefig

    def with_metadata(self: Figure, *args: object, **kwargs: object) -> None:
        kwargs["metadata"] = {"Title": PNR, "Author": "x", "Software": "y"}  # a backend adding text
        savefig(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", with_metadata)
    fig = plots.funnel_chart(rep.masked["tratt"], k=3)
    path = report.save_figure(fig, "x", "02_tratt")
    plt.close(fig)
    types = [c.type for c in leakscan.png_chunks(path.read_bytes())]
    assert types[0] == b"IHDR" and types[-1] == b"IEND" and b"IDAT" in types
    assert not set(types) & (leakscan.PNG_TEXT_CHUNKS | {b"tIME", b"eXIf"})
    assert leakscan.scan(path, [PNR, "Software"]) == []


def _overlaps(fig: Figure) -> list[tuple[str, str]]:
    """Pairs of visible, non-empty texts of ``fig`` whose drawn boxes intersect."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    return [(a, b) for i, (a, box_a) in enumerate(boxes) for b, box_b in boxes[i + 1:]
            if box_a.overlaps(box_b)]


def test_side_by_side_panels_do_not_overlap_their_labels(rep: funnel_report.FunnelReport) -> None:
    fig = plots.stage_rates(rep.masked["fordelning_aktualiseringar"], "anmalare",
                            ["utredning_inledd", "insats_erbjuden"], k=3)
    assert _overlaps(fig) == []
    assert sum(t.get_text().startswith("Andel av gruppens") for t in fig.findobj(Text)) == 1
    plt.close(fig)
