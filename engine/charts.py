"""Every chart in the dashboard is Vega-Lite (Altair), drawn as SVG.

Why Vega-Lite: a new browser session must download and compile the charting library before the first chart
shows. Streamlit's plotly chunk is 4.7 MB and cost ~1.2 s of a first visit on these 2 cores; Vega-Lite's
cost ~0.4 s (measured in headless Chromium, one chart on an otherwise empty page). Why SVG rather than
Vega's default canvas: the charts are small (tens to hundreds of marks), text stays crisp and selectable,
and the browser tests can read the drawn marks. Vega renders text as text, never as HTML, so user-supplied
names need no escaping in labels; tooltips are sanitised by vega-tooltip.
"""

from __future__ import annotations

from functools import partial

import altair as alt


def svg(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    """The chart, told to render as SVG (Streamlit reads `usermeta.embedOptions`), converted without Altair's
    JSON-schema check: Streamlit calls `to_dict()` on every rerun, and the check was more than half of that
    (a cohort bar chart: 44 ms with it, 19 ms without). tests/test_pages.py validates every chart a page draws."""
    shown = chart.properties(usermeta={"embedOptions": {"renderer": "svg"}})
    # an instance attribute: Altair's schema classes keep their own fields in _kwds, not in the instance dict
    object.__setattr__(shown, "to_dict", partial(shown.to_dict, validate=False))
    return shown
