"""Decisions (决策): strategies (decision flows) attached to products, the engine that runs one
application or a million households through them, immutable stored decisions and their replay."""
