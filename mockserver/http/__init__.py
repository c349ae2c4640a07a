"""HTTP: the app factory, the request pipeline, validation against the specs, error handlers
and the servers it runs on."""
