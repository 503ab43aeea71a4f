"""The petition domain: kinds, deadlines, workflow, routing. No framework imports here."""
