"""Text from a scenario or a request, made safe to put into the HTML the project writes.

Folium puts a tooltip's or popup's text into a JavaScript template literal (backticks)
that Leaflet then shows as HTML, and a layer's name into the layer control as HTML. So a
text must be HTML-escaped *and* unable to end or interpolate the template literal:
:func:`text` escapes ``& < > " '`` and also the backtick, ``$`` and the backslash, as
character references (they show as themselves). Every scenario or request text that
reaches a map goes through it; the markup around it is the project's own.
"""

from __future__ import annotations

import html

# Characters that matter to a JavaScript template literal, beyond HTML's own.
_TEMPLATE_LITERAL = str.maketrans({"`": "&#96;", "$": "&#36;", "\\": "&#92;"})


def text(value: object) -> str:
    """``value`` as text that shows as itself in HTML and in folium's template literals."""
    return html.escape(str(value), quote=True).translate(_TEMPLATE_LITERAL)
