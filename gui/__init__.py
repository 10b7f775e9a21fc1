"""racelane viewer (PySide6 + pyqtgraph): swimlanes, hazard bands, live tailing."""
