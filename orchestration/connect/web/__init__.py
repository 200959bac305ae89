"""The admin web app (`app`), its Jinja2 templates and stylesheet."""
