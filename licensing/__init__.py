"""The license server (port 5814) and its client: signed licenses, floating seats leased to components.

Modules: ``document`` (the signed license), ``keys`` (issuer keys), ``store`` (licenses and leases on disk),
``app``/``auth``/``console``/``server`` (the HTTPS service and its web console), ``client`` (``LeaseKeeper``),
``address`` (the product's ``--apls-*`` options), ``community`` (a local license for demos), ``launcher`` (start a
server process), ``cli`` (``swarm-license``), ``errors``.
"""
