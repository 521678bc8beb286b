"""Tables: schema, cleaning and TabularPreprocessor (numbers, booleans, categories, dates, free text)."""
