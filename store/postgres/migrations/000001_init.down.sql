DROP TABLE settings;
DROP TABLE friendships;
DROP TABLE swipes;
DROP TABLE users;
