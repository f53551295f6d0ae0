"""The results site: a static website over every ``summary.json`` (``labctl site build|serve``).

Pages are plain HTML with inline CSS, SVG drawn at build time and a few lines of inline JS for
filtering, sorting and comparing: the folder opens from disk with no network and nothing is fetched.
"""
