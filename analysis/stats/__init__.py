"""Statistics for the Krachtpunten analyses: one statistic per function, tidy DataFrames out."""
