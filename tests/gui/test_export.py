"""Timeline images (``gui.export``, ``racelane export``, File > Export): what PNG, SVG and PDF files contain."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest
from PySide6 import QtCore, QtGui

from gui import colors
from gui.export import ExportError, export_image, plan, png_bytes, render_image, render_pdf, render_svg, sheet_image
from gui.layout import LANE_PAD
from gui.theme import DARK, LIGHT
from tracer.cli.export import parse_time
from tracer.cli.main import main

SVG = "{http://www.w3.org/2000/svg}"
AUDIT_LANE = 2  # host2's audit lane in the buggy sample: only hazard 1 (confirmed) covers it


def _rgb(image: QtGui.QImage, x: float, y: float, scale: float = 1.0) -> tuple[int, int, int]:
    c = image.pixelColor(int(x * scale), int(y * scale))
    return c.red(), c.green(), c.blue()


def _close(a, b, tolerance=8) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def _svg_texts(data: bytes) -> list[str]:
    root = ET.fromstring(data)
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


# --- PNG ------------------------------------------------------------------------------------------------
def test_png_has_the_width_asked_and_the_scale_multiplies_it(buggy_data, tmp_path):
    """A 1000-px export at scale 2 is 2000 device pixels wide; its height follows the lanes, doubled."""
    one = render_image(buggy_data, width=1000)
    done = export_image(buggy_data, tmp_path / "two.png", width=1000, scale=2.0)
    two = QtGui.QImage(str(tmp_path / "two.png"))
    assert one.width() == 1000 and (two.width(), two.height()) == (2000, 2 * one.height()) == (done.width, done.height)
    assert two.dotsPerMeterX() == round(2 * 96 / 0.0254)  # pHYs: shows at its logical size where honoured
    sheet = plan(buggy_data, width=1000)
    assert one.height() == sheet.size[1] >= sheet.lanes_top + buggy_data.hazards.count  # at least the lanes


def test_png_fixed_height_is_honoured(buggy_data):
    """The viewer's "window size" export is exactly that size."""
    image = render_image(buggy_data, width=1400, height=860, hazard=1, caption=True)
    assert (image.width(), image.height()) == (1400, 860)


def test_png_hazard_band_colour_shows_over_the_hazard_only(buggy_data):
    """In the audit lane's padding, the confirmed band's colour covers the hazard's time and nothing beside it."""
    sheet = plan(buggy_data, hazard=1)
    image = sheet_image(sheet)
    hz = buggy_data.hazards
    assert AUDIT_LANE in hz.lanes(0) and AUDIT_LANE not in hz.lanes(1)
    y = sheet.y_px(float(sheet.layout.lane_y[AUDIT_LANE]) + LANE_PAD / 2)
    start, end = float(hz.start[0]), float(hz.end[0])
    fill, _, _ = LIGHT.hazard["confirmed"]
    expected = colors.blend((*fill[:3], fill[3] // 4), colors.blend(fill, LIGHT.background))
    inside = [_rgb(image, sheet.x_px(start + f * (end - start)), y) for f in (0.2, 0.5, 0.8)]
    assert all(_close(c, expected) for c in inside), (inside, expected)
    length = end - start
    outside = [_rgb(image, sheet.x_px(t), y) for t in (start - 0.4 * length, end + 0.4 * length)]
    assert all(_close(c, LIGHT.background) for c in outside), outside


def test_png_at_scale_two_draws_the_band_in_the_same_place(buggy_data):
    """HiDPI output scales the picture, not the layout."""
    sheet = plan(buggy_data, hazard=1)
    image = sheet_image(sheet, 2.0)
    hz = buggy_data.hazards
    y = sheet.y_px(float(sheet.layout.lane_y[AUDIT_LANE]) + LANE_PAD / 2)
    mid = sheet.x_px((float(hz.start[0]) + float(hz.end[0])) / 2)
    assert _rgb(image, mid, y, 2.0)[0] > 200 and _rgb(image, mid, y, 2.0)[1] < 200


def test_png_shows_the_lane_labels(buggy_data):
    """Each lane's name is drawn where the lane tree says: the pixels match that text rendered alone."""
    sheet = plan(buggy_data, hazard=1)
    image = sheet_image(sheet)
    lanes = [item for item in sheet.lane_tree() if item[0] in ("lane", "striped lane")]
    assert [text for _, _, text, _, _ in lanes] == sheet.layout.lane_names()
    for kind, _, text, font, point in lanes:
        reference = QtGui.QImage(image.size(), image.format())
        reference.fill(QtGui.QColor(*(LIGHT.lane_stripe if kind == "striped lane" else LIGHT.background)))
        painter = QtGui.QPainter(reference)
        painter.setFont(font)
        painter.setPen(QtGui.QColor(*LIGHT.text))
        painter.drawText(point, text)
        painter.end()
        box = QtGui.QFontMetricsF(font).boundingRect(text).translated(point).toAlignedRect()
        box = box.intersected(QtCore.QRect(0, 0, int(sheet.plot_left) - 2, image.height()))
        assert image.copy(box) == reference.copy(box), text
        dark = [1 for x in range(box.left(), box.right()) for yy in range(box.top(), box.bottom())
                if QtGui.QColor(reference.pixel(x, yy)).lightness() < 128]
        assert len(dark) > 20, text  # the reference is not blank: there is text to compare


def test_dark_theme_paints_dark_surfaces(buggy_data):
    """``theme="dark"``: background and lane stripes in the dark theme's colours."""
    sheet = plan(buggy_data, theme="dark")
    image = sheet_image(sheet)
    assert _close(_rgb(image, 3, 3), DARK.background)
    lane = 1  # an odd lane: striped
    y = sheet.y_px(float(sheet.layout.lane_y[lane]) + 2)
    assert _close(_rgb(image, sheet.plot_left + 3, y), DARK.lane_stripe)


def test_png_bytes_round_trip_with_metadata(buggy_data):
    """The PNG encoder writes what was painted, and the title and software as text."""
    image = render_image(buggy_data, width=800)
    back = QtGui.QImage.fromData(png_bytes(image))
    assert back.convertToFormat(image.format()) == image
    assert back.text("Title").startswith("nova-1896463-buggy.jsonl")
    assert back.text("Software").startswith("racelane")


# --- SVG ------------------------------------------------------------------------------------------------
def test_svg_is_xml_with_lane_names_and_hazard_classes_as_text(buggy_data):
    """The SVG parses; lane names, the hazard's class and the axis' units are searchable text."""
    data = render_svg(buggy_data, hazard=1, caption=True)
    root = ET.fromstring(data)
    assert root.tag == f"{SVG}svg" and root.get("width") == "1920"
    texts = _svg_texts(data)
    for name in buggy_data.trace.lanes.name:
        assert any(name in t for t in texts), name
    for lane in sheet_lanes(buggy_data):
        assert lane in texts
    assert "confirmed (1)" in texts and "potential (1)" in texts
    assert any(t.endswith(" ms") for t in texts)
    assert any("Hazard 1: CONFIRMED" in t for t in texts)


def sheet_lanes(data) -> list[str]:
    return plan(data).layout.lane_names()


def test_svg_opens_in_svg_renderers(buggy_data, tmp_path):
    """Qt's SVG renderer and (where installed) librsvg's rsvg-convert both draw it at its pixel size."""
    from PySide6 import QtSvg

    data = render_svg(buggy_data, hazard=1, caption=True, theme="dark")
    renderer = QtSvg.QSvgRenderer(QtCore.QByteArray(data))
    w, h = plan(buggy_data, hazard=1, caption=True).size
    assert renderer.isValid() and renderer.defaultSize() == QtCore.QSize(w, h)
    if shutil.which("rsvg-convert") is None:
        pytest.skip("rsvg-convert (librsvg2-bin) is not installed")
    (tmp_path / "race.svg").write_bytes(data)
    subprocess.run(["rsvg-convert", str(tmp_path / "race.svg"), "-o", str(tmp_path / "race.png")], check=True,
                   capture_output=True, timeout=60)
    drawn = QtGui.QImage(str(tmp_path / "race.png"))
    assert (drawn.width(), drawn.height()) == (w, h)
    assert _close(_rgb(drawn, 3, 3), DARK.background)


def test_svg_escapes_span_and_lane_names(trace_writer, tmp_path):
    """A span named with <, & and quotes, and an HTML lane name, are escaped text, never markup."""
    from gui.app import load_data

    name = "a<b & \"c\" 'd' </text><script>x</script>"
    path = trace_writer(tmp_path / "esc.jsonl", [(name, "db", 0, 2_000_000, {}), ("next", "db", 2_100_000, 3_000_000, {})],
                        lane_name="<img src=lane.png>")
    data = load_data([str(path)])
    svg = render_svg(data, width=1600)
    text = svg.decode()
    assert "<script>" not in text and "<img" not in text
    assert "a&lt;b &amp; &quot;c&quot;" in text
    texts = _svg_texts(svg)
    assert name in texts
    assert "hostA · <img src=lane.png>" in texts


def test_svg_bar_count_is_bounded_by_pixels_not_spans(trace_writer, tmp_path):
    """30,000 spans in one lane make at most a few rectangles per pixel column: merged bars, not one each."""
    from gui.app import load_data

    spans = [(f"q{k % 7}", "db", 3_000 * k, 3_000 * k + 1_000, {}) for k in range(30_000)]
    data = load_data([str(trace_writer(tmp_path / "many.jsonl", spans))])
    svg = render_svg(data, width=1000)
    rects = svg.count(b"<rect")
    assert rects < 2_000, rects
    assert len(svg) < 300_000
    ET.fromstring(svg)


# --- PDF ------------------------------------------------------------------------------------------------
def test_pdf_is_one_page_with_the_lane_names_as_text(buggy_data, tmp_path):
    """The PDF starts with %PDF, has one page, and (with poppler's pdftotext) gives back the lane names."""
    out = tmp_path / "race.pdf"
    export_image(buggy_data, out, hazard=1, caption=True)
    data = out.read_bytes()
    assert data.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", data)) == 1
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    for lane in sheet_lanes(buggy_data):
        assert lane in text, lane
    assert "confirmed (1)" in text


def test_pdf_and_png_agree_on_the_page_size(buggy_data):
    """The PDF page is the image's size at 96 px to the inch."""
    data = render_pdf(buggy_data, width=960)
    w, h = plan(buggy_data, width=960).size
    box = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)", data)
    assert box is not None
    assert abs(float(box.group(1)) - w * 0.75) < 1 and abs(float(box.group(2)) - h * 0.75) < 1


# --- options ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("options", "message"), [
    ({"hazard": 3}, "has 2 hazards"),
    ({"hazard": 0}, "has 2 hazards"),
    ({"t_range": (5e9, 6e9)}, "outside the trace"),
    ({"t_range": (2e6, 1e6)}, "must come after"),
    ({"t_range": (0, 10)}, "shorter than 50 ns"),
    ({"width": 50}, "width 50"),
    ({"theme": "sepia"}, "unknown theme"),
    ({"height": 150}, "no room for the lanes"),
])
def test_bad_options_are_refused_with_a_reason(buggy_data, options, message):
    """Each bad option raises ``ExportError`` naming the problem."""
    with pytest.raises(ExportError, match=message):
        render_image(buggy_data, **options)


def test_existing_file_is_kept_unless_forced(buggy_data, tmp_path):
    """Without ``force`` an existing file is untouched; with it, replaced; no temporary file is left."""
    out = tmp_path / "keep.png"
    out.write_bytes(b"mine")
    with pytest.raises(ExportError, match="already exists"):
        export_image(buggy_data, out)
    assert out.read_bytes() == b"mine"
    export_image(buggy_data, out, force=True)
    assert out.read_bytes().startswith(b"\x89PNG")
    assert sorted(os.listdir(tmp_path)) == ["keep.png"]


def test_unknown_extension_is_refused(buggy_data, tmp_path):
    """The format comes from the extension; .jpg is not one racelane writes."""
    with pytest.raises(ExportError, match=r"\.jpg"):
        export_image(buggy_data, tmp_path / "x.jpg")
    assert not (tmp_path / "x.jpg").exists()


@pytest.mark.parametrize(("text", "ns"), [("12.5ms", 12.5e6), ("800us", 800e3), ("800µs", 800e3), ("3s", 3e9),
                                          ("+302.100 ms", 302.1e6), ("-5ms", -5e6), ("250ns", 250.0), (".5s", 0.5e9)])
def test_times_take_a_unit(text, ns):
    """``--from``/``--to`` accept ns, us, µs, ms and s, as typed or as the viewer prints them."""
    assert parse_time(text) == pytest.approx(ns)


@pytest.mark.parametrize("text", ["12", "ms", "12 parsecs", "1e3ms", ""])
def test_times_without_a_unit_are_refused(text):
    """A bare number is ambiguous: refused."""
    with pytest.raises(ValueError, match="unit"):
        parse_time(text)


# --- racelane export -------------------------------------------------------------------------------------
def test_cli_writes_the_image_and_needs_force_to_replace_it(buggy_path, tmp_path, capsys):
    """``racelane export`` writes the file (exit 0); again without --force: exit 2, file kept; with it: replaced."""
    out = tmp_path / "race.svg"
    assert main(["export", str(buggy_path), "-o", str(out), "--hazard", "1", "--caption"]) == 0
    assert "wrote" in capsys.readouterr().out
    first = out.read_bytes()
    assert b"CONFIRMED" in first
    assert main(["export", str(buggy_path), "-o", str(out), "--from", "250ms", "--to", "320ms"]) == 2
    assert "--force" in capsys.readouterr().err
    assert out.read_bytes() == first
    assert main(["export", str(buggy_path), "-o", str(out), "--from", "250ms", "--to", "320ms", "--force"]) == 0
    assert out.read_bytes() != first
    assert "+250.000 ms .. +320.000 ms" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "message"), [
    (["-o", "{tmp}/x.gif"], "'.gif' is not an image format"),
    (["-o", "{tmp}/x.png", "--hazard", "3"], "--hazard 3: the trace has 2 hazards"),
    (["-o", "{tmp}/x.png", "--from", "2s", "--to", "3s"], "outside the trace"),
    (["-o", "{tmp}/x.png", "--from", "300ms", "--to", "200ms"], "must come after"),
    (["-o", "{tmp}/x.png", "--from", "12"], "--from: '12' is not a time"),
    (["-o", "{tmp}/x.svg", "--scale", "2"], "--scale applies to PNG only"),
    (["-o", "{tmp}/x.png", "--width", "10"], "--width 10"),
    (["-o", "{tmp}/missing/x.png"], "does not exist"),
])
def test_cli_bad_usage_exits_2_with_a_message(buggy_path, tmp_path, capsys, args, message):
    """Bad format, hazard, range, time, scale, width or directory: exit 2, one clear line, no file."""
    argv = ["export", str(buggy_path), *[a.format(tmp=tmp_path) for a in args]]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not [p for p in os.listdir(tmp_path) if p != "missing"]


# --- the viewer ------------------------------------------------------------------------------------------
def test_viewer_exports_what_the_timeline_shows(buggy_data, open_window, tmp_path):
    """File > Export of the current view: the timeline's range and selected hazard; copy puts it on the clipboard."""
    from PySide6 import QtWidgets

    from gui.export_dialog import ExportChoice

    window = open_window(buggy_data, 1200, 800)
    window.select_hazard(0)
    x0, x1 = window.timeline.x_range()
    done = window.exports.export_to(str(tmp_path / "view.svg"), ExportChoice(fmt="svg", what="view"))
    assert done is not None and done.t_range == pytest.approx((x0, x1)) and done.hazard == 1
    assert "hazard 1 of 2" in (tmp_path / "view.svg").read_text()
    whole = window.exports.export_to(str(tmp_path / "whole.png"), ExportChoice(what="trace", window_size=True))
    assert whole is not None and (whole.width, whole.height) == (window.width(), window.height())
    assert whole.t_range[0] < 0 < float(buggy_data.duration_ns) < whole.t_range[1]
    image = window.exports.copy_image()
    assert image is not None and not QtWidgets.QApplication.clipboard().image().isNull()
    assert "Copied" in window.statusBar().currentMessage()


def test_viewer_export_dialog_reads_back_its_choice(qtbot):
    """The dialog's fields give back the choice it opened with; the hazard option needs a selected hazard."""
    from gui.export_dialog import ExportChoice, ExportDialog

    choice = ExportChoice(fmt="pdf", what="trace", width=2400, scale=1.0, theme="dark", caption=False)
    dialog = ExportDialog(choice, has_hazard=False, window_size=(1200, 800))
    qtbot.addWidget(dialog)
    assert dialog.choice() == choice
    assert not dialog.what["hazard"].isEnabled()
    assert not dialog.scale.isEnabled()  # PDF is vector


def test_lanes_that_do_not_fit_are_counted_not_dropped_silently(buggy_data):
    """A fixed height too small for every lane says how many are not shown."""
    sheet = plan(buggy_data, height=400)
    assert sheet.hidden_lanes >= 1 and sheet.size == (1920, 400)
    texts = _svg_texts(render_svg(buggy_data, height=400))
    assert any(f"{sheet.hidden_lanes} more lane" in t and "not shown" in t for t in texts), texts


def test_the_viewers_layout_is_honoured(buggy_data):
    """A collapsed host shows as one closed row, its lanes left out (the viewer's collapse, filters and pivot)."""
    from gui.layout import LaneLayout

    host1 = (int(buggy_data.trace.lanes.host[0]),)
    layout = LaneLayout(buggy_data.trace, buggy_data.index, frozenset({host1}))
    texts = _svg_texts(render_svg(buggy_data, layout=layout))
    assert "▸ host1" in texts
    assert not any(t.startswith("host1 · ") for t in texts)
    assert "host2 · periodic update_available_resource" in texts


def test_a_trace_without_analysis_exports_and_says_so(buggy_path):
    """Before the rules run (the viewer's first frame) the image has no hazard rows and says the rules were not checked."""
    from gui.data import ViewerData
    from tracer.analysis import load

    data = ViewerData(load([str(buggy_path)]), sources=[str(buggy_path)])
    texts = _svg_texts(render_svg(data, caption=True))
    assert any("rules: not checked" in t for t in texts)
    assert "The rules were not checked." in texts
    assert not any(t.startswith("confirmed (") for t in texts)
    with pytest.raises(ExportError, match="not checked"):
        render_svg(data, hazard=1)


def test_viewer_export_dialog_flow_names_the_file(buggy_data, open_window, tmp_path, monkeypatch):
    """Ctrl+E's flow: the dialog's choice, then the file name; a typed extension picks the format, none gets one."""
    from PySide6 import QtWidgets

    from gui import export_dialog

    window = open_window(buggy_data, 1200, 800)
    window.select_hazard(0)
    monkeypatch.setattr(export_dialog.ExportDialog, "exec", lambda self: QtWidgets.QDialog.DialogCode.Accepted)
    names = iter([str(tmp_path / "typed.svg"), str(tmp_path / "plain")])
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (next(names), ""))
    first = window.exports.export_dialog()
    assert first is not None and first.format == "svg" and (tmp_path / "typed.svg").read_bytes().startswith(b"<?xml")
    second = window.exports.export_dialog()
    assert second is not None and second.path == str(tmp_path / "plain.png")
    assert QtGui.QImage(second.path).width() == 1920
    assert window.exports.suggested_name(export_dialog.ExportChoice(what="hazard")) == "nova-1896463-buggy-hazard1.png"
