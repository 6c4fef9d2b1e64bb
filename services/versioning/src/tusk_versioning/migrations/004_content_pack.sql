-- Where the one chunk of a small file lives when it was stored inside a pack object (`FileContent.pack`).
ALTER TABLE contents ADD COLUMN pack text;
