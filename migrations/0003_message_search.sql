-- Full-text search over the message history (hand-written: drizzle cannot declare virtual tables).
--
-- messages_fts: FTS5 with the trigram tokenizer over `text`, so any substring of 3 or more characters
-- matches in any script (Chinese, Japanese and Korean have no spaces between words), case-insensitive.
-- messages_grams: FTS5 with unicode61 over `grams`, where the mirror has spelled every CJK run out as its
-- single characters and adjacent pairs: the index for 1-2 character queries, which trigram cannot answer.
-- Both are external-content tables kept in sync by the triggers below.
CREATE VIRTUAL TABLE messages_fts USING fts5(text, content='messages', content_rowid='id', tokenize='trigram case_sensitive 0');
--> statement-breakpoint
CREATE VIRTUAL TABLE messages_grams USING fts5(grams, content='messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2');
--> statement-breakpoint
CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN
  INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
  INSERT INTO messages_grams (rowid, grams) VALUES (new.id, new.grams);
END;
--> statement-breakpoint
CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
  INSERT INTO messages_grams (messages_grams, rowid, grams) VALUES ('delete', old.id, old.grams);
END;
--> statement-breakpoint
CREATE TRIGGER messages_search_update AFTER UPDATE OF text, grams ON messages BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
  INSERT INTO messages_grams (messages_grams, rowid, grams) VALUES ('delete', old.id, old.grams);
  INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
  INSERT INTO messages_grams (rowid, grams) VALUES (new.id, new.grams);
END;
