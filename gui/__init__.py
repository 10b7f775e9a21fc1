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
"""
