"""``mgl serve``: the HTTP service (:mod:`~mgl.serve.service`), its request guards
(:mod:`~mgl.serve.guards`) and its page (``static/index.html``)."""
