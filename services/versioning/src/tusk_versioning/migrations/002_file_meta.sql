-- A staged put of a file carries the file's metadata (compact JSON of sorted [key, value] pairs).
ALTER TABLE staged ADD COLUMN meta text;
