"""Sample data and the seeded day generator: Paris from hand-written city facts, any other
city from an OpenStreetMap extract's streets (the Copenhagen sample)."""
