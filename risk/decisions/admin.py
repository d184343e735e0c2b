"""The admin of decision flows and decisions (决策流、决策)."""
