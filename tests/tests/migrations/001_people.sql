-- The first migration of the tests: a table, and a pause so that two instances overlap.
CREATE TABLE people (id INT PRIMARY KEY, name TEXT NOT NULL);
SELECT pg_sleep(0.3);
