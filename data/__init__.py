"""Sample data: the Paris city facts and the seeded day generator built on them."""
