-- chorus_signup_context answers exactly one row. Without saying so PostgreSQL assumed a
-- thousand for each sign-up of a batch, planned the writer's statement for 64,000 rows, and
-- joined them to signatures by reading the whole table: with 1.3 million signatures, a batch
-- of 64 sign-ups took 0.77 s (the benchmark's durable signing fell to 258 per second).
ALTER FUNCTION chorus_signup_context(uuid, uuid, varchar) ROWS 1;
