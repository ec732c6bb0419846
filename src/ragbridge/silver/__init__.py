"""Silver sequences: the search (`search`), the stage that runs it over a run
directory (`stage`, with `worker` for Ray), and the file format (`records`)."""
