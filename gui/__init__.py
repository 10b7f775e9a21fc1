"""racelane viewer (PySide6 + pyqtgraph): swimlanes, hazard bands, live tailing.

Start it with ``racelane view TRACE...`` or ``python -m gui TRACE...``. The
viewer binds what ``tracer.analysis`` computed; it never parses traces or
looks for overlaps itself. Modules, from data to window:

- ``data``: the loaded trace, the analysis and the viewer's indexes (no Qt);
- ``rows``, ``layout``, ``lod``: drawing rows, vertical layout, level of detail (no Qt);
- ``plain``, ``describe``, ``colors``: plain-text formatting and colours (no Qt);
- ``spans_item``, ``bands``, ``labels``, ``painting``: what the timeline paints;
- ``axes``, ``viewbox``, ``timeline``: the plot, its lane tree, time axis and navigation;
- ``panels``, ``window``, ``app``: hazard list, details, legend, main window, start-up.
- ``loading`` (no Qt), ``files``, ``offsets``: background loads with progress and Cancel, several files merged,
  drops, recent files, reload, per-host clock offsets.
- ``theme``, ``settings``: light and dark palettes (shared with export), what the viewer remembers (QSettings).
- ``export``, ``export_sheet``, ``export_png``, ``export_dialog``: timeline images (PNG, SVG, PDF) for the
  viewer's File > Export, ``racelane export``, ``racelane demo`` and tests.
"""
