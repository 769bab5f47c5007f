"""Where bars and results are kept: the Parquet lake and the warehouses."""
