// placeholder until the edge lands
