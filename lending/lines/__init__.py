"""Credit lines (授信): a household's master line, its members' sub-lines, pre-approval from a
campaign's decisions, and the line's lifecycle."""
