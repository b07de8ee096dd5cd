"""Projects, sections, procedures and the legal time rules they consult."""
