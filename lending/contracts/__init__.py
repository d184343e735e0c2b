"""Electronic contracts: templates, rendering, signing, the evidence chain and its checks."""
