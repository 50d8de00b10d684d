"""The standard scenario suite: one `<name>.py` + `<name>.md` per scenario."""
