"""The web: the owner portal (`/`), the public pages (`/status`, `/appeal`, `/messages`)
and the support and operator console (`/console`), rendered on the server with Jinja2
and enhanced with htmx (no JavaScript build step, no inline script).

Routes here parse forms, call the same use cases as the JSON API and render templates;
the rules (freshness, cool-downs, throttles, who sees what) stay in `services/`.
"""
