"""Links in templates, built once per distinct link instead of on every page.

A page calls ``url_for`` fifteen to twenty times (the navigation, the chart's actions),
and werkzeug builds each link from its rule again every time: about a twentieth of the
chart page's server time (docs/performance.md). A link relative to the site depends
only on the application, its root path, the endpoint and its values, so the template
global ``url_for`` remembers it under exactly those, per application. External links,
anchors, blueprint-relative endpoints and values that cannot be a key are built as before.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, request, url_for

_KEY = "stillpoint.urls"
REMEMBERED = 4096  # links per application; a few hundred kB. Forgotten all at once past it.


def init_urls(app: Flask) -> None:
    app.extensions[_KEY] = {}
    app.jinja_env.globals["url_for"] = cached_url_for


def cached_url_for(endpoint: str, **values: Any) -> str:
    """``flask.url_for``, remembered for links relative to the site (see the module)."""
    if endpoint.startswith(".") or any(key.startswith("_") for key in values):
        return url_for(endpoint, **values)
    cache = current_app.extensions[_KEY]
    try:
        key = (request.root_path, endpoint, *sorted(values.items()))
        return cache[key]
    except KeyError:
        pass
    except TypeError:  # a value that cannot be a key, e.g. a list of query values
        return url_for(endpoint, **values)
    if len(cache) >= REMEMBERED:
        cache.clear()
    link = cache[key] = url_for(endpoint, **values)
    return link
