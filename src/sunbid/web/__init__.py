"""Server-rendered pages: the shell (layout, home, login, language) and helpers other features' pages use."""
