-- Applied twice, this would insert two rows.
CREATE TABLE seeded (n INT NOT NULL);
INSERT INTO seeded (n) VALUES (1);
INSERT INTO people (id, name) VALUES (1, 'John Doe');
