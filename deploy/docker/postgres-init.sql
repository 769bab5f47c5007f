-- One server, two databases: Dagster's instance (POSTGRES_DB) and Optuna's studies.
CREATE DATABASE optuna;
