-- A migration that fails: the start must stop and name this file.
CREATE TABLE broken (id INT PRIMARY KEY);
INSERT INTO no_such_table VALUES (1);
